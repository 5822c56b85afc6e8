-- wrk: print one JSON line with throughput and latency percentiles (microseconds) when done.
done = function(summary, latency, requests)
  local seconds = summary.duration / 1e6
  io.write(string.format(
    '{"requests":%d,"rps":%.2f,"bytes":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,"errors":%d,"timeouts":%d,"non2xx":%d}\n',
    summary.requests, summary.requests / seconds, summary.bytes,
    latency:percentile(50), latency:percentile(99), latency.max,
    summary.errors.connect + summary.errors.read + summary.errors.write, summary.errors.timeout,
    summary.errors.status))
end
