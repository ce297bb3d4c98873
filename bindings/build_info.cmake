# Writes the Python package's _build_info.py: the project's version and the commit of the
# source tree (git describe; "unknown" outside a git checkout), rewritten only when it
# changes. Run at every build by the tcpfault_python target.
#   cmake -DSOURCE_DIR=... -DOUTPUT=... -DVERSION=... -P build_info.cmake
set(commit unknown)
find_program(GIT git)
if(GIT AND EXISTS ${SOURCE_DIR}/.git)
  execute_process(COMMAND ${GIT} -C ${SOURCE_DIR} describe --always --dirty --abbrev=12
                  OUTPUT_VARIABLE described OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE failed ERROR_QUIET)
  if(NOT failed AND described)
    set(commit ${described})
  endif()
endif()
set(text "# Written by the build (bindings/build_info.cmake).\nVERSION = \"${VERSION}\"\nCOMMIT = \"${commit}\"\n")
if(EXISTS ${OUTPUT})
  file(READ ${OUTPUT} old)
endif()
if(NOT "${old}" STREQUAL "${text}")
  file(WRITE ${OUTPUT} "${text}")
endif()
