"""recall_reach: where the codes of a recalled batch went and how many were scanned after
the recall.

A batch is recalled from the first recalling event (or recalled disposition) of any of its
codes; its codes are those of the codes snapshot with the same product and batch. Evidence:
the batch's codes, the destination regions they were shipped to, the codes and scans seen
after the recall. Severity high when any was scanned after it, else info. One alert per
batch (subject product/batch)."""

NAME = "recall_reach"
SEVERITY = "info"
WINDOW = "all"
PARAMS = {}
RANGES = {}

SQL = """WITH recall AS (
  SELECT code, min(time) AS recalled FROM events
  WHERE biz_step = 'recalling' OR disposition = 'recalled' GROUP BY code
),
rb AS (
  SELECT c.product, c.batch, min(r.recalled) AS recalled
  FROM recall r JOIN codes c ON c.code = r.code WHERE c.batch IS NOT NULL
  GROUP BY c.product, c.batch
),
members AS (
  SELECT c.code, c.product, c.batch, rb.recalled
  FROM codes c JOIN rb ON c.product = rb.product AND c.batch = rb.batch
),
n AS (SELECT product, batch, count(*) AS n FROM members GROUP BY product, batch),
d AS (
  SELECT m.product, m.batch, count(DISTINCT e.destination_region) AS n
  FROM members m JOIN events e ON e.code = m.code
  WHERE e.destination_region IS NOT NULL GROUP BY m.product, m.batch
),
a AS (
  SELECT m.product, m.batch, count(DISTINCT s.code) AS n_codes, count(*) AS n_scans,
         count(DISTINCT s.region) AS n_regions, max(EPOCH_US(s.time)) AS last_us
  FROM members m JOIN scans s ON s.code = m.code WHERE s.time > m.recalled
  GROUP BY m.product, m.batch
)
SELECT concat(rb.product, '/', CAST(rb.batch AS STRING)) AS subject, rb.product,
       CAST(NULL AS STRING) AS region, EPOCH_US(rb.recalled) AS first_us,
       coalesce(a.last_us, EPOCH_US(rb.recalled)) AS last_us, 0 AS win,
       n.n AS ev_codes, coalesce(d.n, 0) AS ev_regions_reached,
       coalesce(a.n_codes, 0) AS ev_codes_scanned_after, coalesce(a.n_scans, 0) AS ev_scans_after,
       coalesce(a.n_regions, 0) AS ev_regions_scanned_after,
       CASE WHEN a.n_codes IS NULL THEN 'info' ELSE 'high' END AS severity
FROM rb JOIN n ON n.product = rb.product AND n.batch = rb.batch
LEFT JOIN d ON d.product = rb.product AND d.batch = rb.batch
LEFT JOIN a ON a.product = rb.product AND a.batch = rb.batch"""
