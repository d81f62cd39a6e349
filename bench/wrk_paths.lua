-- wrk script: each request takes the next path from a file (one per line), so every
-- request hits a different message. Usage: wrk ... -s wrk_paths.lua URL -- PATHS_FILE
local paths = {}
local next_index = 1

function init(args)
  for line in io.lines(args[1]) do
    paths[#paths + 1] = line
  end
  next_index = math.random(#paths)
end

function request()
  next_index = next_index % #paths + 1
  return wrk.format("GET", paths[next_index])
end
