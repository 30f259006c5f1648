-- wrk script for `make bench`: sends the Authorization header given in BENCH_AUTHORIZATION (if any), asks
-- for JSON, and prints the run's figures as one JSON line (latencies in microseconds).
local authorization = os.getenv("BENCH_AUTHORIZATION")
wrk.headers["Accept"] = "application/json"
if authorization and authorization ~= "" then
  wrk.headers["Authorization"] = authorization
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "socket_errors": %d, "non_2xx": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, errors.connect + errors.read + errors.write + errors.timeout,
    errors.status, latency:percentile(50), latency:percentile(99)))
end
