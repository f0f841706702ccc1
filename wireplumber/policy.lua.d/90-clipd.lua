-- clipd's routing policy for WirePlumber 0.4: links clipd's native PipeWire node to the default
-- sink (scripts/clipd-default-links.lua). Installed with clipd; see ROUTING ON PIPEWIRE in
-- clipd(1).
load_script("clipd-default-links.lua")
