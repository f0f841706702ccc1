-- clipd-default-links.lua: WirePlumber 0.4 links clipd to the default audio sink.
--
-- WirePlumber's own policy links streams through audio adapter items, which need a node that
-- advertises formats and accepts PortConfig; clipd's node is a pw_filter with fixed DSP ports
-- that does neither (PipeWire 0.3 before 0.3.71), so the standard policy leaves it alone. This
-- policy links the nodes that ask for it (property clipd.default-links = true, set by clipd when
-- no `connect` ports are configured): out_1 to the default sink's FL input and out_2 to its FR
-- input (out_1 to both when it is the only output; a mono sink's MONO input otherwise), and moves
-- those links whenever the default changes. The links belong to WirePlumber: they go when it
-- stops. A metadata object named clipd-default-links tells clipd that this policy runs; while it
-- is absent clipd links itself the same way.

-- Global: a local that no callback uses would be collected, and the metadata with it.
clipd_default_links_announce = ImplMetadata("clipd-default-links")
clipd_default_links_announce:activate(Features.ALL, function(_, err)
  if err then
    Log.warning("clipd-default-links: cannot announce the policy: " .. tostring(err))
  end
end)

local clipd_nodes = ObjectManager {
  Interest {
    type = "node",
    Constraint { "clipd.default-links", "=", "true", type = "pw" },
  },
}
local sinks = ObjectManager {
  Interest {
    type = "node",
    Constraint { "media.class", "=", "Audio/Sink", type = "pw-global" },
  },
}
local ports = ObjectManager { Interest { type = "port" } }
local metadata = ObjectManager {
  Interest {
    type = "metadata",
    Constraint { "metadata.name", "=", "default" },
  },
}

local links = ObjectManager { Interest { type = "link" } }

-- By clipd node id: `key`, the port pairs wanted ("out>in,..."), and `links`, our Link object
-- for each pair made (kept so that it lives), by pair.
local linked = {}

local function default_sink_name()
  local m = metadata:lookup()
  if not m then
    return nil
  end
  local value = m:find(0, "default.audio.sink")
  if not value then
    return nil
  end
  return value:match('"name"%s*:%s*"([^"]*)"')
end

local function port_of(node_id, direction, key, value)
  return ports:lookup {
    Constraint { "node.id", "=", tostring(node_id) },
    Constraint { "port.direction", "=", direction },
    Constraint { key, "=", value },
  }
end

-- The (output port, input port) pairs node `node` wants on the default sink, or nil while the
-- default or its ports are unknown.
local function wanted_pairs(node)
  local name = default_sink_name()
  if not name then
    return nil
  end
  local sink = sinks:lookup { Constraint { "node.name", "=", name } }
  if not sink then
    return nil
  end
  local id = node["bound-id"]
  local out_1 = port_of(id, "out", "port.name", "out_1")
  local out_2 = port_of(id, "out", "port.name", "out_2")
  local fl = port_of(sink["bound-id"], "in", "audio.channel", "FL")
  local fr = port_of(sink["bound-id"], "in", "audio.channel", "FR")
  local mono = port_of(sink["bound-id"], "in", "audio.channel", "MONO")
  if out_1 and fl and fr then
    return { { out_1, fl }, { out_2 or out_1, fr } }
  elseif out_1 and mono then
    return { { out_1, mono } }
  end
  return nil
end

local function unlink(id)
  local entry = linked[id]
  if not entry then
    return
  end
  entry.dropped = true
  for _, link in pairs(entry.links) do
    link:request_destroy()
  end
  linked[id] = nil
end

local function already_linked(output, input)
  return links:lookup {
    Constraint { "link.output.port", "=", tostring(output) },
    Constraint { "link.input.port", "=", tostring(input) },
  } ~= nil
end

local function relink(node)
  local id = node["bound-id"]
  local wanted = wanted_pairs(node)
  -- Unknown yet: the links made for the previous default stay until the new one can be linked.
  if not wanted then
    return
  end
  local key = ""
  for _, p in ipairs(wanted) do
    key = key .. p[1]["bound-id"] .. ">" .. p[2]["bound-id"] .. ","
  end
  if not linked[id] or linked[id].key ~= key then
    unlink(id)
    linked[id] = { key = key, links = {} }
  end
  local entry = linked[id]
  for _, p in ipairs(wanted) do
    local output, input = p[1]["bound-id"], p[2]["bound-id"]
    local pair = output .. ">" .. input
    -- Made already (a link someone removes is not made again), or someone else's link stands
    -- (clipd's own, until it sees this policy and removes it: then this runs again).
    if not entry.links[pair] and not already_linked(output, input) then
      local link = Link("link-factory", {
        ["link.output.port"] = output,
        ["link.input.port"] = input,
        ["object.linger"] = false,
      })
      link:activate(Features.ALL, function(_, err)
        if err and not entry.dropped then
          Log.warning("clipd-default-links: cannot link " .. pair .. ": " .. tostring(err))
        end
      end)
      entry.links[pair] = link
    end
  end
end

local function relink_all()
  for node in clipd_nodes:iterate() do
    relink(node)
  end
end

clipd_nodes:connect("object-added", function(_, node)
  relink(node)
end)
clipd_nodes:connect("object-removed", function(_, node)
  -- Its links went with its ports.
  local entry = linked[node["bound-id"]]
  if entry then
    entry.dropped = true
  end
  linked[node["bound-id"]] = nil
end)
sinks:connect("object-added", relink_all)
ports:connect("object-added", relink_all)
links:connect("object-removed", relink_all)
metadata:connect("object-added", function(_, m)
  m:connect("changed", function(_, subject, key)
    if subject == 0 and (key == nil or key == "default.audio.sink") then
      relink_all()
    end
  end)
  relink_all()
end)

clipd_nodes:activate()
sinks:activate()
ports:activate()
metadata:activate()
links:activate()
