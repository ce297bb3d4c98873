# Writes a copy of gVisor's tcp/endpoint.go whose setEndpointState reports each change
# to stateChanged (overlay/state_hook.go), and the go build overlay that swaps it in.
# Debian's files stay untouched. Stops with a clear error if the line it hooks moved.
#   cmake -DSOURCE=<endpoint.go> -DHOOK=<state_hook.go> -DOUT_DIR=<dir> -P patch_endpoint.cmake
set(anchor "\toldstate := EndpointState(e.state.Swap(uint32(state)))\n")
file(READ "${SOURCE}" text)
string(FIND "${text}" "${anchor}" at)
if(at EQUAL -1)
  message(FATAL_ERROR
    "the gVisor agent hooks setEndpointState in ${SOURCE}, but its first line is not "
    "'oldstate := EndpointState(e.state.Swap(uint32(state)))' any more: this gVisor "
    "snapshot differs from the one the agent was written for (golang-gvisor-gvisor-dev "
    "0.0~20221219). Update agents/gvisor/overlay/patch_endpoint.cmake to the new line.")
endif()
string(REPLACE "${anchor}" "" rest "${text}")
string(LENGTH "${text}" full)
string(LENGTH "${rest}" without)
string(LENGTH "${anchor}" one)
math(EXPR times "(${full} - ${without}) / ${one}")
if(NOT times EQUAL 1)
  message(FATAL_ERROR "the line the gVisor agent hooks appears ${times} times in ${SOURCE}, not once")
endif()
string(REPLACE "${anchor}" "${anchor}\tstateChanged(e, oldstate, state)\n" patched "${text}")
file(WRITE "${OUT_DIR}/endpoint.go" "${patched}")
get_filename_component(package_dir "${SOURCE}" DIRECTORY)
file(WRITE "${OUT_DIR}/overlay.json"
  "{\"Replace\": {\"${SOURCE}\": \"${OUT_DIR}/endpoint.go\", "
  "\"${package_dir}/state_hook.go\": \"${HOOK}\"}}\n")
