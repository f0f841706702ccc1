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

local clipd_nodes = ObjectManager {
  Interest {
    type = "node",
    Constraint { "clipd.default-links", "=", "true", type = "pw" },
  },
}
local ports = ObjectManager { Interest { type = "port" } }
local links = ObjectManager { Interest { type = "link" } }

-- By clipd node id: `key`, the port pairs wanted ("out>in,..."), `links`, our Link object for
-- each pair made (kept so that it lives), by pair, and `failures`, by pair.
local linked = {}

-- A link the server refuses (clipd's own link still stands there: the server makes no second
-- link between two ports) is tried again this many times, once the way is free.
local max_failures = 3

-- Nothing is linked until every object manager has its first view of the graph: a node seen
-- before the links would look unlinked.
local managers_installed = 0
local managers = 3

-- The default sink as WirePlumber's default-nodes module chose it (policy.lua.d loads its API
-- before this script). Its id, not a node object: a node object manager lists a node only once
-- all of the node's features are ready, which can take long for a sink that is playing.
local default_nodes = Plugin.find("default-nodes-api")
if not default_nodes then
  -- Not announced either: clipd goes on linking the default itself.
  Log.warning("clipd-default-links: no default-nodes-api plugin; clipd links the default sink")
  return
end

local function default_sink_id()
  local id = default_nodes:call("get-default-node", "Audio/Sink")
  if not id or id == Id.INVALID then
    return nil
  end
  return id
end

-- Lookups match registry (global) properties: the registry has them from the start, while a
-- proxy's own properties may not have arrived yet.
local function port_of(node_id, direction, key, value)
  return ports:lookup {
    Constraint { "node.id", "=", tostring(node_id), type = "pw-global" },
    Constraint { "port.direction", "=", direction, type = "pw-global" },
    Constraint { key, "=", value, type = "pw-global" },
  }
end

-- The (output port, input port) pairs node `node` wants on the default sink, or nil while the
-- default or its ports are unknown.
local function wanted_pairs(node)
  local sink = default_sink_id()
  if not sink then
    return nil
  end
  local id = node["bound-id"]
  local out_1 = port_of(id, "out", "port.name", "out_1")
  local out_2 = port_of(id, "out", "port.name", "out_2")
  local fl = port_of(sink, "in", "audio.channel", "FL")
  local fr = port_of(sink, "in", "audio.channel", "FR")
  local mono = port_of(sink, "in", "audio.channel", "MONO")
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

-- Whether a link joins the two ports; `going`, a link being removed, does not count (it is
-- still listed while its removal is announced).
local function already_linked(output, input, going)
  for link in links:iterate {
    Constraint { "link.output.port", "=", tostring(output), type = "pw-global" },
    Constraint { "link.input.port", "=", tostring(input), type = "pw-global" },
  } do
    if not going or link["bound-id"] ~= going["bound-id"] then
      return true
    end
  end
  return false
end

local function relink(node, going)
  if managers_installed < managers then
    return
  end
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
    linked[id] = { key = key, links = {}, failures = {} }
  end
  local entry = linked[id]
  for _, p in ipairs(wanted) do
    local output, input = p[1]["bound-id"], p[2]["bound-id"]
    local pair = output .. ">" .. input
    -- Made already (a link someone removes is not made again), or someone else's link stands
    -- (clipd's own, until it sees this policy and removes it: then this runs again).
    if not entry.links[pair] and not already_linked(output, input, going) then
      local link = Link("link-factory", {
        ["link.output.port"] = output,
        ["link.input.port"] = input,
        ["object.linger"] = false,
      })
      link:activate(Features.ALL, function(_, err)
        if not err or entry.dropped then
          return
        end
        entry.links[pair] = nil
        entry.failures[pair] = (entry.failures[pair] or 0) + 1
        if entry.failures[pair] <= max_failures then
          relink(node)
        else
          Log.warning("clipd-default-links: cannot link " .. pair .. ": " .. tostring(err))
        end
      end)
      entry.links[pair] = link
    end
  end
end

local function relink_all(going)
  for node in clipd_nodes:iterate() do
    relink(node, going)
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
ports:connect("object-added", function()
  relink_all()
end)
links:connect("object-removed", function(_, link)
  relink_all(link)
end)
default_nodes:connect("changed", function()
  relink_all()
end)

for _, om in ipairs({ clipd_nodes, ports, links }) do
  om:connect("installed", function()
    managers_installed = managers_installed + 1
    relink_all()
    -- Ready: clipd may hand its links over. Global: a local would be collected, and the
    -- metadata object with it.
    if managers_installed == managers then
      clipd_default_links_announce = ImplMetadata("clipd-default-links")
      clipd_default_links_announce:activate(Features.ALL, function(_, err)
        if err then
          Log.warning("clipd-default-links: cannot announce the policy: " .. tostring(err))
        end
      end)
    end
  end)
end

clipd_nodes:activate()
ports:activate()
links:activate()
