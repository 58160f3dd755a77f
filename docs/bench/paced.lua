-- paced load for BENCHMARKS.md §1: the kit's chat.lua request, but each connection waits DELAY_MS
-- (default 1) after every response before sending the next, so the box is not saturated and the
-- latency wrk reports (which excludes the wait) is the path's own, not queueing for a busy core.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench"
local model = os.getenv("MODEL") or "upstream-model"
wrk.body = '{"model":"' .. model .. '","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"What is the capital of France? Answer in one sentence, and explain briefly how you know."}],"temperature":0.2,"max_tokens":64}'
local pause = tonumber(os.getenv("DELAY_MS") or "1")
function delay() return pause end
