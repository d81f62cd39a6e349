-- wrk script: each request takes the next path from a file (one per line), so every
-- request hits a different message. Usage:
--   wrk ... -s wrk_paths.lua URL -- PATHS_FILE [DELAY_MS]
-- DELAY_MS spaces each connection's requests, to offer a steady rate instead of as many
-- requests as the server can take.
local paths = {}
local next_index = 1
local pause_ms = 0

function init(args)
  for line in io.lines(args[1]) do
    paths[#paths + 1] = line
  end
  next_index = math.random(#paths)
  pause_ms = tonumber(args[2] or "0")
end

function delay()
  return pause_ms
end

function request()
  next_index = next_index % #paths + 1
  return wrk.format("GET", paths[next_index])
end
