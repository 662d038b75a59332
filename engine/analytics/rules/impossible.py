"""impossible: scans or events a code's life does not allow.

Kinds (the alert's window): before_commissioning (a scan before its commissioning event),
after_sale (at least after_sale_min_scans scans more than after_sale_grace_hours after
retail_selling/dispensing: a buyer checking once is normal), after_destruction (after a
destroying event or a destroyed disposition: also a scrapped cylinder), after_recall,
after_slaughter (a livestock tag scanned after the slaughter step: slaughter_steps, our own
bizStep name, or the destroying event asset-steps' slaughter retires a tag with — a code of
slaughter_schemes destroyed is slaughtered, not after_destruction), used_twice (a detonator with
more than one use event: use_steps). One alert per code and kind."""

NAME = "impossible"
SEVERITY = "high"
WINDOW = "column"
PARAMS = {"after_sale_grace_hours": 24.0, "after_sale_min_scans": 2,
          "sale_steps": ("retail_selling", "dispensing"),
          "slaughter_steps": ("urn:tracecode:bizstep:slaughtering",),
          "use_steps": ("urn:tracecode:bizstep:blasting",),
          # schemes whose codes are livestock tags: their destroying event is the slaughter
          # (asset-steps' slaughter retires the tag with one: categories/livestock.py)
          "slaughter_schemes": ("cn-eartag-15",)}
RANGES = {"after_sale_grace_hours": (0.0, 87_600.0), "after_sale_min_scans": (1, 1_000_000)}

SQL = """WITH tags AS (
  SELECT DISTINCT code FROM codes WHERE scheme IN (:slaughter_schemes)
),
ev AS (
  SELECT e.code, e.time, e.biz_step, e.disposition, t.code IS NOT NULL AS is_tag
  FROM events e LEFT JOIN tags t ON t.code = e.code
),
marks AS (
  SELECT code,
    min(CASE WHEN biz_step = 'commissioning' THEN time END) AS commissioned,
    min(CASE WHEN biz_step IN (:sale_steps) THEN time END) AS sold,
    min(CASE WHEN NOT is_tag AND (biz_step = 'destroying' OR disposition = 'destroyed')
             THEN time END) AS destroyed,
    min(CASE WHEN biz_step = 'recalling' OR disposition = 'recalled' THEN time END) AS recalled,
    min(CASE WHEN biz_step IN (:slaughter_steps)
               OR (is_tag AND (biz_step = 'destroying' OR disposition = 'destroyed'))
             THEN time END) AS slaughtered
  FROM ev GROUP BY code
),
j AS (
  SELECT s.code, s.product, s.region, s.time, m.commissioned, m.sold, m.destroyed,
         m.recalled, m.slaughtered
  FROM scans s JOIN marks m ON s.code = m.code
),
hits AS (
  SELECT code, product, region, time, 'before_commissioning' AS kind FROM j
   WHERE commissioned IS NOT NULL AND time < commissioned
  UNION ALL
  SELECT code, product, region, time, 'after_sale' AS kind FROM j
   WHERE sold IS NOT NULL AND EPOCH_US(time) > EPOCH_US(sold) + :after_sale_grace_hours * 3.6E9
  UNION ALL
  SELECT code, product, region, time, 'after_destruction' AS kind FROM j
   WHERE destroyed IS NOT NULL AND time > destroyed
  UNION ALL
  SELECT code, product, region, time, 'after_recall' AS kind FROM j
   WHERE recalled IS NOT NULL AND time > recalled
  UNION ALL
  SELECT code, product, region, time, 'after_slaughter' AS kind FROM j
   WHERE slaughtered IS NOT NULL AND time > slaughtered
)
SELECT code AS subject, max(product) AS product, min(region) AS region,
       min(EPOCH_US(time)) AS first_us, max(EPOCH_US(time)) AS last_us, kind AS win,
       count(*) AS ev_scans, kind AS ev_kind
FROM hits GROUP BY code, kind
HAVING count(*) >= CASE WHEN kind = 'after_sale' THEN :after_sale_min_scans ELSE 1 END
UNION ALL
SELECT code AS subject, max(product) AS product, CAST(NULL AS STRING) AS region,
       min(EPOCH_US(time)) AS first_us, max(EPOCH_US(time)) AS last_us, 'used_twice' AS win,
       count(DISTINCT event_id) AS ev_scans, 'used_twice' AS ev_kind
FROM events WHERE biz_step IN (:use_steps) GROUP BY code HAVING count(DISTINCT event_id) > 1"""
