-- The kit's chat.lua request, with the tail beyond wrk's p99 printed at the end (BENCHMARKS.md §1):
-- TAIL p50=… p99=… p99.9=… p99.99=… max=… ms n=<requests>
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench"
local model = os.getenv("MODEL") or "upstream-model"
wrk.body = '{"model":"' .. model .. '","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"What is the capital of France? Answer in one sentence, and explain briefly how you know."}],"temperature":0.2,"max_tokens":64}'

function done(summary, latency, requests)
  io.write(string.format("TAIL p50=%.3f p99=%.3f p99.9=%.3f p99.99=%.3f max=%.3f ms n=%d\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency:percentile(99.9) / 1000,
    latency:percentile(99.99) / 1000, latency.max / 1000, summary.requests))
end
