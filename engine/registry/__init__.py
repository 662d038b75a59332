"""Product registries and the counterfeit check: veterinary approvals, pesticide registrations.

A registry holds the approvals a category publishes (veterinary 批准文号 with
the holder's 5-digit enterprise id; pesticide 登记证号), imported from CSV or
JSON with a report of every row, and national code data linked to it. A scan
is then checked by name: code_exists, enterprise_matches, approval_matches,
approval_valid, not_expired, not_recalled, plausible_query_count (compare.py).

>>> import tracecode, tempfile, os
>>> d = tracecode.init(os.path.join(tempfile.mkdtemp(), "data"))
>>> report = d.registry.import_rows([{"number": "兽药字（2015）010012345", "product": "阿莫西林可溶性粉",
...     "company": "某某动物药业有限公司", "enterprise_id": "00002", "valid_until": "2099-12-31"}])
>>> report.added
['兽药字(2015)010012345']
>>> batch = d.issue_approved("兽药字(2015)010012345", 10, lot="A1", expiry="20991231")
>>> codes = [c.decode() for c in batch.codes()]
>>> _ = d.apply([{"id": "c1", "action": "commission", "codes": codes}])
>>> print(d.check(f"{codes[0]},阿莫西林可溶性粉,兽药字(2015)010012345,某某动物药业有限公司,0571"))
GENUINE
>>> print(d.check(f"{codes[1]},阿莫西林可溶性粉,兽药字(2016)010012345,某某动物药业有限公司,0571"))
NOT_GENUINE: failed approval_matches
>>> d.registry.lookup("兽药字(2015)010012345").validity
'valid until 2099-12-31'
>>> d.close()
"""
from .approvals import Approval
from .compare import BIT, CHECKS, Check, CheckBatch, RegistryAnswer, names
from .importer import ImportReport, Issue
from .records import ApprovalRecord, Product
from .registry import ApprovalInfo, Registry

__all__ = ["BIT", "CHECKS", "Approval", "ApprovalInfo", "ApprovalRecord", "Check", "CheckBatch",
           "ImportReport", "Issue", "Product", "Registry", "RegistryAnswer", "names"]
