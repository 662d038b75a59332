"""SQL pieces more than one rule uses."""

# Each scan with a position: its own lat/lon, else its region's centroid, else its city's
# (NNNN00), else its province's (NN0000).
SCAN_POINTS = """scan_points AS (
  SELECT s.seq, s.time, s.code, s.product, s.scanner, s.region, s.verdict,
         coalesce(s.lat, c1.lat, c2.lat, c3.lat) AS lat,
         coalesce(s.lon, c1.lon, c2.lon, c3.lon) AS lon
  FROM scans s
  LEFT JOIN centroids c1 ON c1.code = s.region
  LEFT JOIN centroids c2 ON c2.code = concat(substr(s.region, 1, 4), '00')
  LEFT JOIN centroids c3 ON c3.code = concat(substr(s.region, 1, 2), '0000')
)"""
