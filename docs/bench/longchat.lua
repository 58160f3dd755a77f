-- long prompt for the kit (BENCHMARKS.md §1): like ../shared/bench/chat.lua, with a 20 KB user message
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local model = os.getenv("MODEL") or "upstream-model"
wrk.body = '{"model":"' .. model .. '","messages":[{"role":"user","content":"' .. string.rep("lorem ipsum ", 1700) .. '"}],"max_tokens":64}'
