"""The GS1 Web Vocabulary link types (https://gs1.org/voc/, the values of a link's "rel").

>>> normalise("pip"), normalise("gs1:pip"), normalise("https://gs1.org/voc/pip")
('gs1:pip', 'gs1:pip', 'gs1:pip')
>>> normalise("GS1:RecallStatus")
'gs1:recallStatus'
>>> uri("gs1:certificationInfo")
'https://gs1.org/voc/certificationInfo'
>>> normalise("gs1:nothing")
Traceback (most recent call last):
    ...
tracecode.digitallink.uri.DigitalLinkError: 'gs1:nothing' is not a GS1 link type (such as gs1:pip, ...)
"""
from __future__ import annotations

from .uri import DigitalLinkError

VOCABULARY = "https://gs1.org/voc/"
_NAMES = (
    "activityIdeas allergenInfo appDownload backgroundInfo brandHomepageClinical brandHomepagePatient "
    "careersInfo certificationInfo consumerHandlingStorageInfo defaultLink defaultLinkMulti dpp eifu epcis "
    "epil eventsInfo faqs handledBy hasRetailers homepage ingredientsInfo instructions jws leaveReview "
    "locationInfo logisticsInfo loyaltyProgram masterData menuInfo nutritionalInfo openingHoursInfo "
    "paymentLink pip productSustainabilityInfo promotion purchaseSuppliesOrAccessories quickStartGuide "
    "recallStatus recipeInfo registerProduct registryEntry relatedImage relatedVideo reportFound review "
    "safetyInfo scheduleTime serviceInfo smartLabel smpc socialMedia statisticInfo subscribe support "
    "sustainabilityInfo traceability tutorial userAgreement verificationService whatsInTheBox"
).split()

# "gs1:pip" -> its full URI (the key a linkset uses)
LINK_TYPES: dict[str, str] = {f"gs1:{n}": VOCABULARY + n for n in _NAMES}
DEFAULT_LINK = "gs1:defaultLink"
MAX_TEXT = 200
_BY_LOWER = {n.lower(): f"gs1:{n}" for n in _NAMES}


def normalise(text: str) -> str:
    """"pip", "gs1:pip" or "https://gs1.org/voc/pip" (any case) -> "gs1:pip"; an unknown
    type is a DigitalLinkError."""
    t = str(text).strip() if text is not None else ""
    low = t.lower()
    for prefix in ("https://gs1.org/voc/", "http://gs1.org/voc/", "https://www.gs1.org/voc/", "gs1:"):
        if low.startswith(prefix):
            low = low[len(prefix):]
            break
    hit = _BY_LOWER.get(low)
    if hit is None:
        shown = t if len(t) <= 60 else t[:60] + "..."
        raise DigitalLinkError(f"{shown!r} is not a GS1 link type (such as gs1:pip, gs1:certificationInfo, "
                               f"gs1:recallStatus)")
    return hit


def uri(link_type: str) -> str:
    """The full vocabulary URI of a link type."""
    return LINK_TYPES[normalise(link_type)]
