"""The public window's words: one catalog per language (Chinese the default, English), and
the choice of language for a request.

Catalogs are plain dicts of key -> text with str.format fields; every key is in every
catalog with the same fields (tests/test_web_answer.py checks). A page asks ``text(lang,
key, **fields)``; the answer dict carries the texts already chosen, so the JSON API and the
page say the same words.

>>> text("en", "verdict.genuine")
'Genuine'
>>> text("zh", "verdict.genuine")
'正品'
>>> pick("en-GB,en;q=0.9,zh;q=0.5"), pick("zh-CN,zh;q=0.9,en;q=0.8"), pick("fr, de;q=0.5")
('en', 'zh', 'zh')
"""
from __future__ import annotations

import string

LANGS = ("zh", "en")
DEFAULT = "zh"
COOKIE = "lang"

ZH = {
    "site.title": "追溯码查询",
    "site.tagline": "公众一站式追溯信息查询",
    "site.switch": "English",
    "site.switch_lang": "en",
    "site.home": "首页",
    "site.footer": "本页查询结果来自追溯码平台的记录。如有疑问，请联系当地市场监管或农业农村部门。",
    "home.heading": "查询追溯码或批准文号",
    "home.code_label": "追溯码",
    "home.code_kinds": "可查询：{kinds}",
    "home.code_kinds_sep": "、",
    "home.code_kinds_len": "（{n}位）",
    "home.code_hint": "输入包装上的码，或扫码后得到的网址中的码",
    "home.approval_label": "兽药批准文号或农药登记证号",
    "home.approval_hint": "例如：兽药字(2015)010012345 或 PD20092927",
    "home.submit": "查询",
    "home.region_label": "所在地区（可选）",
    "home.region_hint": "例如：南宁",
    "verdict.genuine": "正品",
    "verdict.not_found": "未查到此码",
    "verdict.recalled": "已召回",
    "verdict.expired": "已过期",
    "verdict.destroyed": "已销毁",
    "verdict.sold": "已售出或已发药",
    "verdict.suspicious": "可疑",
    "verdict.not_in_circulation": "尚未上市流通",
    "verdict_note.genuine": "此码由平台赋码，状态正常。",
    "verdict_note.registered": "此码由制造单位编制，已在平台登记；能否使用见下方。",
    "verdict_note.not_found": "平台没有此码的记录。",
    "verdict_note.recalled": "此产品已被召回。",
    "verdict_note.expired": "此产品已过有效期。",
    "verdict_note.destroyed": "此码的产品已登记为销毁。",
    "verdict_note.sold": "此码的产品已经售出或发药。",
    "verdict_note.suspicious": "此码的查询情况异常，可能是仿冒品。",
    "verdict_note.not_in_circulation": "此码已赋码，但产品尚未登记上市。",
    "field.code": "追溯码",
    "field.product": "产品",
    "field.category": "类别",
    "field.company": "持有企业",
    "field.approval_number": "批准文号/登记证号",
    "field.approval_validity": "文号有效性",
    "field.lot": "批号",
    "field.production_date": "生产日期",
    "field.expiry": "有效期至",
    "field.scan_count": "查询次数",
    "field.first_query": "首次查询",
    "field.status": "状态",
    "field.path": "流通路径",
    "field.batch": "批次记录",
    "field.history": "完整记录",
    "field.links": "更多信息",
    "link.pip": "产品信息",
    "link.recallStatus": "召回信息",
    "link.certificationInfo": "认证信息",
    "link.instructions": "使用说明",
    "link.safetyInfo": "安全信息",
    "link.epil": "电子说明书",
    "link.smpc": "药品说明书（专业版）",
    "link.defaultLink": "产品主页",
    "link.productSustainabilityInfo": "可持续信息",
    "field.checks": "登记核查",
    "field.line": "生产线",
    "field.requester": "申请人",
    "field.count": "赋码数量",
    "field.batch_id": "批次",
    "field.issued": "赋码时间",
    "field.dosage_form": "剂型",
    "field.specification": "规格",
    "field.kind": "类型",
    "field.valid_until": "有效期至",
    "value.times": "{count}次",
    "value.times_one": "{count}次（本次）",
    "value.code_fields": "码中信息",
    "category.drugs": "药品",
    "category.veterinary": "兽药",
    "category.pesticides": "农药",
    "category.gs1_trade": "GS1 商品",
    "category.generic": "其他产品",
    "category.special_equipment": "特种设备",
    "category.hazardous": "危险物品",
    "category.livestock": "畜禽耳标",
    "category.rare_earth": "稀土产品批次码（GS1）",
    "value.first_query": "{date}，{place}",
    "value.unknown": "未知",
    "warning.repeat_query": "此码已被查询{count}次；首次查询于{date}在{place}。"
                            "如果这是您第一次查询，该产品可能是仿冒品。",
    "warning.repeat_query_noplace": "此码已被查询{count}次；首次查询于{date}。"
                                    "如果这是您第一次查询，该产品可能是仿冒品。",
    "warning.recalled": "此产品已于{date}召回{reason}。请勿使用，请退回购买处或联系持有企业。",
    "warning.recalled_nodate": "此产品已被召回{reason}。请勿使用，请退回购买处或联系持有企业。",
    "warning.reason": "（原因：{reason}）",
    "warning.expired": "此产品已于{date}过期，请勿使用。",
    "warning.suspicious": "此码在比正品更多的地点被查询，可能是仿冒品。请向购买处核实，或向当地监管部门举报。",
    "warning.destroyed": "此产品已登记销毁{reason}，不应在市场上出现。请向当地监管部门举报。",
    "warning.sold": "此码的产品已登记售出或发药。如果您买到的是新品，而卖家说它从未售出，它可能是仿冒品："
                    "请向购买处核实，或向当地监管部门举报。",
    "warning.sold_at": "此码的产品已于{date}在{place}登记售出或发药（药店结账时记录）。如果这是您在当时当地买到的，"
                       "这就是您这一件的记录；如果不是，它可能是仿冒品：请向购买处核实，或向当地监管部门举报。",
    "warning.sold_on": "此码的产品已于{date}登记售出或发药（药店结账时记录）。如果这是您在当天买到的，"
                       "这就是您这一件的记录；如果不是，它可能是仿冒品：请向购买处核实，或向当地监管部门举报。",
    "warning.label_lot": "标签上的批号{label}与此码登记的批号{record}不符："
                         "标签可能是另一批的，或被改过，可能是仿冒品。",
    "warning.label_expiry": "标签上的有效期{label}与此码登记的有效期{record}不符：标签可能被改过，可能是仿冒品。",
    "warning.no_expiry_on_record": "登记信息中没有此产品的有效期，平台无法核对：请核对标签上的有效期。",
    "warning.not_one_pack": "此码只标识产品（或批次），不是某一件商品的追溯码，无法据此核验真伪。"
                            "请扫描或输入包装上带序列号的追溯码。",
    "verdict.not_one_pack": "不是单件追溯码",
    "verdict_note.not_one_pack": "这是产品的编码，没有可核验的单件记录。",
    "verdict.controlled_item": "管控物品",
    "verdict_note.controlled_item": "详情仅向监管部门提供。",
    "value.more_than": "超过{count}",
    "home.region_none": "不选择",
    "reason.invalid_argument": "输入的内容有误，请核对。",
    "reason.invalid_argument.number": "文号的格式不对：例如兽药字(2015)010012345 或 PD20092927。",
    "reason.unreadable_scan": "无法识别此码。",
    "reason.unknown_scheme": "没有这种码制。",
    "reason.unknown_batch": "没有这个批次。",
    "reason.unknown_code": "平台没有此码的记录。",
    "reason.unknown_approval": "登记中没有此文号。请核对文号；确认无误仍查不到的，请向当地监管部门核实。",
    "reason.not_found": "没有找到要查的内容。",
    "reason.key_reused": "此请求与之前的请求冲突。",
    "reason.already_exists": "这个名称已经有了。",
    "reason.duplicate_event": "此请求与之前的请求冲突。",
    "reason.unauthenticated": "需要登录，或登录信息无效。",
    "reason.permission_denied": "您没有查看此内容的权限。",
    "reason.illegal_transition": "此码当前的状态不允许这样操作。",
    "reason.no_registry": "平台暂无产品登记信息，无法查询文号。",
    "reason.refused": "平台拒绝了此请求。",
    "reason.not_applied": "此请求没有执行。",
    "reason.capacity_exceeded": "此产品的码已用完。",
    "reason.index_full": "服务器存储已满，请稍后再试。",
    "reason.audit_log_full": "服务器暂时无法记录，请稍后再试。",
    "reason.audit_incomplete": "已完成，但记录不完整。",
    "reason.too_many_streams": "同时进行的查询太多，请稍后再试。",
    "reason.too_many_captures": "等待处理的采集太多，请稍后再试。",
    "reason.query_too_large": "查询结果超过了所限的事件数，请缩小查询范围。",
    "reason.internal": "服务器出现故障，请稍后再试。",
    "reason.rate_limited": "查询过于频繁，请稍后再试。",
    "warning.not_found": "查不到此码。请核对每一位数字；确认无误仍查不到的，可能是假码，请向当地监管部门举报。",
    "warning.not_in_circulation": "此码的产品尚未登记上市，不应在市场上出现。请向当地监管部门举报。",
    "warning.approval_invalid": "批准文号{number}无效：{why}。",
    "warning.approval_mismatch": "此码与登记的批准文号不符，可能是仿冒品。",
    "warning.enterprise_mismatch": "此码中的企业与批准文号的持有企业不符，可能是仿冒品。",
    "warning.query_count": "此码的查询次数超出正常范围，可能是仿冒品。",
    "warning.registry_unconfirmed": "登记信息无法确认此码（例如没有可核对的批准文号），请向购买处或当地监管部门核实。",
    "validity.valid": "有效，至{date}",
    "validity.expired": "已过期（{date}）",
    "validity.suspended": "已暂停（自{date}）",
    "validity.revoked": "已撤销（自{date}）",
    "validity.suspended_nodate": "已暂停",
    "validity.revoked_nodate": "已撤销",
    "action.commission": "赋码上市",
    "action.ship": "发货",
    "action.receive": "收货",
    "action.sell": "零售",
    "action.dispense": "发药",
    "action.recall": "召回",
    "action.destroy": "销毁",
    "action.decommission": "作废",
    "action.pack": "装箱",
    "action.unpack": "拆箱",
    "status.issued": "已赋码",
    "status.registered": "已登记",
    "status.commissioned": "已上市",
    "status.decommissioned": "已作废",
    "status.shipped": "运输中",
    "status.received": "已到货",
    "status.sold": "已售出",
    "status.dispensed": "已发药",
    "status.recalled": "已召回",
    "status.destroyed": "已销毁",
    "check.code_exists": "码存在",
    "check.enterprise_matches": "企业一致",
    "check.approval_matches": "文号一致",
    "check.approval_valid": "文号有效",
    "check.not_expired": "未过期",
    "check.not_recalled": "未召回",
    "check.plausible_query_count": "查询次数正常",
    "check.ok": "通过",
    "check.failed": "未通过",
    "check.unchecked": "无法核查",
    "approval.heading": "批准文号查询",
    "approval.valid": "文号有效",
    "approval.invalid": "文号无效",
    "approval.unknown": "登记中没有此文号",
    "approval.products": "所含产品",
    "approval.kind.vet": "兽药批准文号",
    "approval.kind.pesticide": "农药登记证",
    "audience.public": "公众可见信息",
    "audience.whole": "您以{name}身份登录，可查看完整记录。",
    "error.heading": "无法完成查询",
    "error.back": "返回查询",
    "error.400": "输入的内容无法识别。",
    "error.404": "没有找到该页面。",
    "error.429": "查询过于频繁，请稍后再试。",
    "error.500": "服务器出现故障，请稍后再试。",
    "error.unreadable": "无法识别此码：{detail}",
    "error.detail": "技术信息",
    "fault.EMPTY": "没有输入码。",
    "fault.TOO_LONG": "输入的内容太长，不是追溯码。",
    "fault.NOT_UTF8": "输入的内容含有无法识别的字符。",
    "fault.UNKNOWN_FORMAT": "无法识别这种码的格式。",
    "fault.WRONG_LENGTH": "位数不对：药品追溯码20位，兽药24位，农药32位。请核对。",
    "fault.BAD_CHARACTER": "码中有不应出现的字符，请核对。",
    "fault.CHECK_MISMATCH": "校验位不符：可能输错了一位，也可能不是真码。请核对每一位。",
    "fault.UNKNOWN_AI": "GS1码中有无法识别的内容。",
    "fault.BAD_AI_VALUE": "GS1码中有一项内容有误。",
    "fault.MISSING_AI": "GS1码的内容不完整。",
    "fault.DUPLICATE_AI": "GS1码中有重复的内容。",
    "fault.INVALID_DATE": "码中的日期无效。",
    "fault.INVALID_FIELD": "码中的某一部分无效，请核对。",
    "fault.EXPIRED_DATE": "码中的有效期已过。",
    "fault.AMBIGUOUS": "此码符合多种码制，无法确定是哪一种。",
}

EN = {
    "site.title": "Trace code check",
    "site.tagline": "One-stop public queries of trace information",
    "site.switch": "中文",
    "site.switch_lang": "zh",
    "site.home": "Home",
    "site.footer": "This answer comes from the traceability platform's records. If in doubt, contact "
                   "your local market regulation or agriculture authority.",
    "home.heading": "Check a trace code or an approval number",
    "home.code_label": "Trace code",
    "home.code_kinds": "You can check: {kinds} (in brackets: the code's length)",
    "home.code_kinds_sep": ", ",
    "home.code_kinds_len": " ({n})",
    "home.code_hint": "Type the code on the pack, or the one in the address a scan gave you",
    "home.approval_label": "Veterinary approval or pesticide registration number",
    "home.approval_hint": "For example 兽药字(2015)010012345 or PD20092927",
    "home.submit": "Check",
    "home.region_label": "Your city or region (optional)",
    "home.region_hint": "for example Nanning",
    "verdict.genuine": "Genuine",
    "verdict.not_found": "Not found",
    "verdict.recalled": "Recalled",
    "verdict.expired": "Expired",
    "verdict.destroyed": "Destroyed",
    "verdict.sold": "Already sold or dispensed",
    "verdict.suspicious": "Suspicious",
    "verdict.not_in_circulation": "Not yet in circulation",
    "verdict_note.genuine": "This code was issued on the platform and its product is in good standing.",
    "verdict_note.registered": "This code was assigned by its maker and is registered on the platform; "
                               "whether it may be used is below.",
    "verdict_note.not_found": "The platform has no record of this code.",
    "verdict_note.recalled": "This product has been recalled.",
    "verdict_note.expired": "This product is past its expiry date.",
    "verdict_note.destroyed": "This code's product was recorded as destroyed.",
    "verdict_note.sold": "This code's product was already sold or dispensed.",
    "verdict_note.suspicious": "This code's queries look wrong: the product may be a copy.",
    "verdict_note.not_in_circulation": "This code was issued but its product was never released.",
    "field.code": "Code",
    "field.product": "Product",
    "field.category": "Category",
    "field.company": "Holder",
    "field.approval_number": "Approval / registration number",
    "field.approval_validity": "Approval validity",
    "field.lot": "Lot",
    "field.production_date": "Production date",
    "field.expiry": "Expiry",
    "field.scan_count": "Queries",
    "field.first_query": "First query",
    "field.status": "Status",
    "field.path": "Distribution path",
    "field.batch": "Batch record",
    "field.history": "Full history",
    "field.links": "More about this product",
    "link.pip": "Product information",
    "link.recallStatus": "Recall status",
    "link.certificationInfo": "Certification",
    "link.instructions": "Instructions",
    "link.safetyInfo": "Safety information",
    "link.epil": "Patient leaflet",
    "link.smpc": "Prescribing information",
    "link.defaultLink": "Product page",
    "link.productSustainabilityInfo": "Sustainability",
    "field.checks": "Registry checks",
    "field.line": "Production line",
    "field.requester": "Requester",
    "field.count": "Codes issued",
    "field.batch_id": "Batch",
    "field.issued": "Issued",
    "field.dosage_form": "Dosage form",
    "field.specification": "Specification",
    "field.kind": "Kind",
    "field.valid_until": "Valid until",
    "value.times": "{count} times",
    "value.times_one": "{count} (this one)",
    "value.code_fields": "What the code says",
    "category.drugs": "Drug or vaccine",
    "category.veterinary": "Veterinary drug",
    "category.pesticides": "Pesticide",
    "category.gs1_trade": "GS1 trade item",
    "category.generic": "Other product",
    "category.special_equipment": "Special equipment",
    "category.hazardous": "Hazardous goods",
    "category.livestock": "Livestock ear tag",
    "category.rare_earth": "Rare earth lot on a GS1 code",
    "value.first_query": "{date}, {place}",
    "value.unknown": "unknown",
    "warning.repeat_query": "This code has been queried {count} times; the first query was on {date} in "
                            "{place}. If this is your first query, the product may be a copy.",
    "warning.repeat_query_noplace": "This code has been queried {count} times; the first query was on "
                                    "{date}. If this is your first query, the product may be a copy.",
    "warning.recalled": "This product was recalled on {date}{reason}. Do not use it: return it to where "
                        "you bought it or contact the holder.",
    "warning.recalled_nodate": "This product has been recalled{reason}. Do not use it: return it to "
                               "where you bought it or contact the holder.",
    "warning.reason": " (reason: {reason})",
    "warning.expired": "This product expired on {date}. Do not use it.",
    "warning.suspicious": "This code has been queried at more places than a genuine pack is: the "
                          "product may be a copy. Check with the seller or report it to your local "
                          "regulator.",
    "warning.destroyed": "This product was recorded as destroyed{reason}: it should not be on sale. "
                         "Report it to your local regulator.",
    "warning.sold": ("This code's product is recorded as sold or dispensed. If you bought it new and the "
                     "seller says it was never sold, it may be a copy: check with the seller or report it "
                     "to your local regulator."),
    "warning.sold_at": ("This code's product was recorded as sold or dispensed on {date} in {place} (a "
                        "pharmacy records the sale at checkout). If that is when and where you bought it, this "
                        "is your pack's record; if not, it may be a copy: check with the seller or report it "
                        "to your local regulator."),
    "warning.sold_on": ("This code's product was recorded as sold or dispensed on {date} (a pharmacy records "
                        "the sale at checkout). If that is when you bought it, this is your pack's record; if "
                        "not, it may be a copy: check with the seller or report it to your local regulator."),
    "warning.label_lot": ("The lot on the label, {label}, is not this code's lot on record, {record}: the label "
                          "may be another batch's or altered, and the product may be a copy."),
    "warning.label_expiry": ("The expiry on the label, {label}, is not this code's expiry on record, {record}: "
                             "the label may be altered, and the product may be a copy."),
    "warning.no_expiry_on_record": ("The registry holds no expiry date for this product, so it could not be "
                                    "checked: check the date on the label."),
    "warning.not_one_pack": ("This names a product (or a lot), not one pack's trace code: there is nothing "
                             "here to verify. Scan or type the code with its serial number from the pack."),
    "verdict.not_one_pack": "Not a pack's trace code",
    "verdict_note.not_one_pack": "This is a product's code: there is no single pack's record to verify.",
    "verdict.controlled_item": "A controlled item",
    "verdict_note.controlled_item": "Details are for regulators only.",
    "value.more_than": "more than {count}",
    "home.region_none": "Not given",
    "reason.invalid_argument": "Something entered is not right: please check it.",
    "reason.invalid_argument.number": ("This is not the form of an approval or registration number: for "
                                         "example 兽药字(2015)010012345 or PD20092927."),
    "reason.unreadable_scan": "This code cannot be read.",
    "reason.unknown_scheme": "There is no such code system.",
    "reason.unknown_batch": "There is no such batch.",
    "reason.unknown_code": "The platform has no record of this code.",
    "reason.unknown_approval": ("This number is not in the registry. Check it; if it is right and still "
                                "not found, ask your local regulator."),
    "reason.not_found": "What was asked for is not there.",
    "reason.key_reused": "This request conflicts with an earlier one.",
    "reason.already_exists": "That name is taken already.",
    "reason.duplicate_event": "This request conflicts with an earlier one.",
    "reason.unauthenticated": "Sign-in is needed, or the sign-in is not valid.",
    "reason.permission_denied": "You may not see this.",
    "reason.illegal_transition": "The code's state does not allow this.",
    "reason.no_registry": "The platform holds no product registry yet: numbers cannot be looked up.",
    "reason.refused": "The platform refused this request.",
    "reason.not_applied": "This request was not carried out.",
    "reason.capacity_exceeded": "This product has no more codes.",
    "reason.index_full": "The server's storage is full: please try again later.",
    "reason.audit_log_full": "The server cannot keep its records just now: please try again later.",
    "reason.audit_incomplete": "Done, but its record is incomplete.",
    "reason.too_many_streams": "Too many queries at once: please try again shortly.",
    "reason.too_many_captures": "Too many captures are waiting: please try again shortly.",
    "reason.query_too_large": "The query answers more events than its limit: please narrow it.",
    "reason.internal": "The server has a fault: please try again shortly.",
    "reason.rate_limited": "Too many queries: please try again shortly.",
    "warning.not_found": "This code cannot be found. Check every digit; if it still cannot be found, "
                         "it may be fake: report it to your local regulator.",
    "warning.not_in_circulation": "This code's product was never released: it should not be on sale. "
                                  "Report it to your local regulator.",
    "warning.approval_invalid": "The approval number {number} is not valid: {why}.",
    "warning.approval_mismatch": "This code does not match the registered approval number: the "
                                 "product may be a copy.",
    "warning.enterprise_mismatch": "The company in this code is not the approval's holder: the "
                                   "product may be a copy.",
    "warning.query_count": "This code has been queried more often than a genuine pack is: the "
                           "product may be a copy.",
    "warning.registry_unconfirmed": "The registry cannot confirm this code (there is, for example, no "
                                    "approval number to compare): check with the seller or your "
                                    "local regulator.",
    "validity.valid": "valid until {date}",
    "validity.expired": "expired ({date})",
    "validity.suspended": "suspended (since {date})",
    "validity.revoked": "revoked (since {date})",
    "validity.suspended_nodate": "suspended",
    "validity.revoked_nodate": "revoked",
    "action.commission": "Released",
    "action.ship": "Shipped",
    "action.receive": "Received",
    "action.sell": "Sold",
    "action.dispense": "Dispensed",
    "action.recall": "Recalled",
    "action.destroy": "Destroyed",
    "action.decommission": "Voided",
    "action.pack": "Packed",
    "action.unpack": "Unpacked",
    "status.issued": "issued",
    "status.registered": "registered",
    "status.commissioned": "released",
    "status.decommissioned": "void",
    "status.shipped": "in transit",
    "status.received": "received",
    "status.sold": "sold",
    "status.dispensed": "dispensed",
    "status.recalled": "recalled",
    "status.destroyed": "destroyed",
    "check.code_exists": "Code exists",
    "check.enterprise_matches": "Company matches",
    "check.approval_matches": "Approval matches",
    "check.approval_valid": "Approval valid",
    "check.not_expired": "Not expired",
    "check.not_recalled": "Not recalled",
    "check.plausible_query_count": "Plausible number of queries",
    "check.ok": "passed",
    "check.failed": "failed",
    "check.unchecked": "not checked",
    "approval.heading": "Approval number",
    "approval.valid": "Valid",
    "approval.invalid": "Not valid",
    "approval.unknown": "Not in the registry",
    "approval.products": "Products covered",
    "approval.kind.vet": "Veterinary drug approval",
    "approval.kind.pesticide": "Pesticide registration",
    "audience.public": "What the public may see",
    "audience.whole": "Signed in as {name}: you see the whole record.",
    "error.heading": "The query could not be answered",
    "error.back": "Back to the query",
    "error.400": "What was entered cannot be read.",
    "error.404": "There is no such page.",
    "error.429": "Too many queries: please try again shortly.",
    "error.500": "The server has a fault: please try again shortly.",
    "error.unreadable": "This code cannot be read: {detail}",
    "error.detail": "Technical detail",
    "fault.EMPTY": "No code was entered.",
    "fault.TOO_LONG": "What was entered is too long to be a trace code.",
    "fault.NOT_UTF8": "What was entered has characters that cannot be read.",
    "fault.UNKNOWN_FORMAT": "This is not a code format the platform knows.",
    "fault.WRONG_LENGTH": "The number of digits is wrong: drug codes have 20, veterinary codes 24, "
                          "pesticide codes 32. Please check.",
    "fault.BAD_CHARACTER": "The code has a character that does not belong in it: please check.",
    "fault.CHECK_MISMATCH": "The check digit does not match: a digit may be mistyped, or the code is "
                            "not genuine. Check every digit.",
    "fault.UNKNOWN_AI": "The GS1 code holds something that cannot be read.",
    "fault.BAD_AI_VALUE": "An item of the GS1 code is wrong.",
    "fault.MISSING_AI": "The GS1 code is incomplete.",
    "fault.DUPLICATE_AI": "The GS1 code holds an item twice.",
    "fault.INVALID_DATE": "The date in the code is not a valid date.",
    "fault.INVALID_FIELD": "A part of the code is not valid: please check.",
    "fault.EXPIRED_DATE": "The expiry date in the code has passed.",
    "fault.AMBIGUOUS": "This code fits several code systems and cannot be told apart.",
}

CATALOGS = {"zh": ZH, "en": EN}


def fields_of(template: str) -> frozenset:
    """The str.format field names a text uses (catalogs must agree on them)."""
    return frozenset(name for _, name, _, _ in string.Formatter().parse(template) if name)


def text(lang: str, key: str, **fields) -> str:
    """The text of `key` in `lang` (the default language's if `lang` is not one of ours)."""
    words = CATALOGS.get(lang, ZH)[key]
    return words.format(**fields) if fields else words


def known(lang: str | None) -> str | None:
    """"en", "en-GB", "EN_us" -> "en"; "zh-Hans-CN" -> "zh"; others None."""
    if not lang:
        return None
    primary = lang.strip().replace("_", "-").split("-", 1)[0].lower()
    return primary if primary in CATALOGS else None


def pick(accept_language: str) -> str:
    """The best of our languages for an Accept-Language header (RFC 9110 12.5.4), else the
    default. Bounded: only the first 16 entries are read (the header is the client's)."""
    best, best_q = DEFAULT, 0.0
    for item in accept_language.split(",")[:16]:
        tag, _, params = item.strip().partition(";")
        lang = known(tag)
        if lang is None:
            continue
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                continue
        if q > best_q:   # the first of equal weights wins: the client's order
            best, best_q = lang, q
    return best


def negotiate(request) -> str:
    """The language of a request: `?lang=`, then the `lang` cookie, then Accept-Language;
    Chinese by default."""
    lang = known(request.query_params.get("lang")) or known(request.cookies.get(COOKIE))
    if lang:
        return lang
    header = request.headers.get("accept-language")
    return pick(header) if header else DEFAULT
