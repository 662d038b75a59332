"""The regulator's page in Chinese and English (the page's own words; the site's header and
footer are web/i18n.py's). Keys as in web/templates/regulator*.html; a {placeholder} is
filled by the template. Rule, severity and category names stay the engine's (they are what
`tracecode alerts --rule` and the report name)."""
from __future__ import annotations

WORDS = {
    "en": {
        "title": "Regulator's overview",
        "login.intro": "This page is for regulators and admins. Give your client token (the one "
                       "issued to you in the clients file); this page keeps a session of 8 hours in a cookie, "
                       "not the token.",
        "login.token": "Client token", "login.submit": "Sign in", "logout": "Sign out",
        "fresh": "Export of {time} in {root}; alerts as the last {analyze} stored them. "
                 "Refresh both with {command}.",
        "no_export": "No analytics export yet ({root} holds no parts), so there are no scans to chart. "
                     "Run {command}: it exports the scans and events there, runs the rules and stores "
                     "their alerts. The alerts already stored are listed below.",
        "problem": "The export cannot be read:", "closed": "Alert {id} closed.",
        "since": "Since", "rule": "Rule", "region": "Region", "category": "Category", "all": "all",
        "closed_too": "closed alerts too", "apply": "Apply",
        "scans": "Scans", "not_genuine": "not genuine", "alerts_shown": "Alerts shown",
        "capped": "Only the newest {n} alerts matching the filters are shown; narrow the filters to see the others.",
        "unmatched": "The category filter cannot be applied to alerts on codes registered under {schemes} "
                     "without an analytics export (it names their products): those alerts are not shown.",
        "by_rule": "Alerts by rule", "severity": "severity", "alerts": "alerts",
        "top_open": "Top open alerts ({n} of {total})", "top": "Top alerts ({n} of {total})",
        "subject": "subject", "first": "first", "last": "last", "evidence": "evidence",
        "why": "why", "close": "Close", "closed_by": "closed by {who}", "no_alerts": "No alerts match.",
        "flows": "Flows between regions (codes)", "from": "from", "to": "to", "codes": "codes",
        "no_flows": "No shipments between regions in this selection.",
        "by_region": "Scans by region (top 25)", "by_day": "Scans by day", "day": "day (UTC)",
        "no_region": "no region",
        "fig.by_region.png": "Scans and non-genuine verdicts by region",
        "fig.by_day.png": "Scans and non-genuine verdicts by day (UTC)",
        "fig.flows.png": "Flows between regions",
    },
    "zh": {
        "title": "监管概览",
        "login.intro": "本页面仅供监管人员和管理员使用。请输入您的客户端令牌（客户端文件中为您签发的令牌）；"
                       "本页面在 Cookie 中保存 8 小时的会话，而不是令牌本身。",
        "login.token": "客户端令牌", "login.submit": "登录", "logout": "退出",
        "fresh": "数据导出时间 {time}，位于 {root}；预警为最近一次 {analyze} 保存的结果。"
                 "运行 {command} 可同时更新两者。",
        "no_export": "尚无分析导出（{root} 中没有数据分片），因此没有可绘制的扫码数据。"
                     "请运行 {command}：它会导出扫码和事件、运行规则并保存预警。下方列出已保存的预警。",
        "problem": "无法读取导出数据：", "closed": "预警 {id} 已关闭。",
        "since": "起始日期", "rule": "规则", "region": "地区", "category": "类别", "all": "全部",
        "closed_too": "包括已关闭的预警", "apply": "筛选",
        "scans": "扫码次数", "not_genuine": "非正品", "alerts_shown": "显示的预警",
        "capped": "只显示符合筛选条件的最新 {n} 条预警；请缩小筛选范围查看其余预警。",
        "unmatched": "没有分析导出数据（其中有产品名称），类别筛选无法用于 {schemes} 下登记的码的预警："
                     "这些预警未显示。",
        "by_rule": "各规则的预警", "severity": "严重程度", "alerts": "预警数",
        "top_open": "未关闭的主要预警（{total} 条中的 {n} 条）", "top": "主要预警（{total} 条中的 {n} 条）",
        "subject": "对象", "first": "首次", "last": "最近", "evidence": "证据",
        "why": "原因", "close": "关闭", "closed_by": "由 {who} 关闭", "no_alerts": "没有符合条件的预警。",
        "flows": "地区间流向（码数）", "from": "发出地", "to": "目的地", "codes": "码数",
        "no_flows": "所选范围内没有地区间发货。",
        "by_region": "各地区扫码（前 25）", "by_day": "每日扫码", "day": "日期（UTC）",
        "no_region": "无地区",
        "fig.by_region.png": "各地区扫码与非正品结果",
        "fig.by_day.png": "每日扫码与非正品结果（UTC）",
        "fig.flows.png": "地区间流向",
    },
}
assert WORDS["en"].keys() == WORDS["zh"].keys()


def words(lang: str) -> dict:
    return WORDS["zh" if lang == "zh" else "en"]
