-- wrk script for the kit (BENCHMARKS.md, static embedding): like ../shared/bench/chat.lua, but every
-- request carries the next real prompt, read from the outcomes files in PROMPTS (comma-separated
-- paths; each line's "prompt" string is copied as it stands, escapes and all, into the body), so
-- no decision can be answered from a cache. MODEL sets the model field, as for chat.lua.
--   PROMPTS=../shared/data/mmlu-pro.jsonl,../shared/data/dcrouter.jsonl,../shared/data/arena-bench-v1.jsonl \
--   MODEL=router-mf-0.5 wrk -t1 -c16 -d10s --latency -s prompts.lua http://127.0.0.1:6061/v1/chat/completions
local model = os.getenv("MODEL") or "upstream-model"
local files = os.getenv("PROMPTS") or error("set PROMPTS to one or more comma-separated outcomes files")
local bodies = {}

-- The JSON string literal after "prompt": on a line, quotes included, or nil.
local function prompt_literal(line)
  local s = line:find('"prompt": *"')
  if not s then return nil end
  local start = line:find('"', line:find(':', s) + 1, true)
  local i = start + 1
  while i <= #line do
    local c = line:sub(i, i)
    if c == "\\" then
      i = i + 2
    elseif c == '"' then
      return line:sub(start, i)
    else
      i = i + 1
    end
  end
  return nil
end

for path in files:gmatch("[^,]+") do
  for line in io.lines(path) do
    local p = prompt_literal(line)
    if p then
      bodies[#bodies + 1] = '{"model":"' .. model .. '","messages":[{"role":"user","content":' .. p
          .. '}],"max_tokens":64}'
    end
  end
end
-- A fixed shuffle, so files given one after another are mixed and every run sends the same order.
math.randomseed(7)
for i = #bodies, 2, -1 do
  local j = math.random(i)
  bodies[i], bodies[j] = bodies[j], bodies[i]
end

local next_body = 0
request = function()
  next_body = next_body % #bodies + 1
  return wrk.format("POST", nil, {["Content-Type"] = "application/json", ["Authorization"] = "Bearer sk-bench"},
      bodies[next_body])
end
