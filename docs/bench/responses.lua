-- wrk script: POST a Responses API request as chat.lua posts a chat one (the same system prompt, as
-- instructions, and user message). MODEL env picks the "model" field (e.g. router-random-0.5).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench"
local model = os.getenv("MODEL") or "upstream-model"
wrk.body = '{"model":"' .. model .. '","instructions":"You are a helpful assistant.","input":[{"role":"user","content":"What is the capital of France? Answer in one sentence, and explain briefly how you know."}],"temperature":0.2,"max_output_tokens":64}'
