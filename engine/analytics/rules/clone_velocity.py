"""clone_velocity: one code scanned at two places too far apart for the time between the
scans (geo-velocity) — two physical labels carrying the same code.

Consecutive scans of a code (by time) that are at least min_km apart and faster than
max_kmh between them. Positions: the scan's lat/lon, else its region's centroid
(centroids.tsv). Unknown-code scans are left out (probing covers them). One alert per code,
its window the UTC day of the first impossible leg."""

NAME = "clone_velocity"
SEVERITY = "high"
WINDOW = "first_day"
PARAMS = {"max_kmh": 900.0, "min_km": 50.0}
RANGES = {"max_kmh": (1.0, 100_000.0), "min_km": (0.0, 20_040.0)}   # half the equator at most

SQL = """WITH __SCAN_POINTS__,
pairs AS (
  SELECT code, product, region, time, lat, lon,
         LAG(lat) OVER w AS plat, LAG(lon) OVER w AS plon, LAG(time) OVER w AS ptime
  FROM scan_points
  WHERE code IS NOT NULL AND verdict <> 'UNKNOWN'
  WINDOW w AS (PARTITION BY code ORDER BY time, seq)
),
legs AS (
  SELECT code, product, region, time, ptime, KM(plat, plon, lat, lon) AS km,
         (EPOCH_US(time) - EPOCH_US(ptime)) / 3.6E9 AS hours
  FROM pairs WHERE plat IS NOT NULL AND lat IS NOT NULL
),
fast AS (
  SELECT * FROM legs WHERE km >= :min_km AND km > :max_kmh * hours
)
SELECT code AS subject, max(product) AS product, min(region) AS region,
       min(EPOCH_US(ptime)) AS first_us, max(EPOCH_US(time)) AS last_us, 0 AS win,
       count(*) AS ev_fast_legs, round(max(km), 0) AS ev_max_km,
       round(min(hours) * 60.0E0, 1) AS ev_min_minutes
FROM fast GROUP BY code"""
