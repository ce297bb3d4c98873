# The Debian package, made by CPack's DEB generator from the install rules (so the layout
# has one description): tcpfault_<version>_<arch>.deb, installed under /usr.
# dpkg-shlibdeps finds the shared libraries the extension module and the lwIP agent link;
# Depends adds what the code runs or imports: the interpreter the extension was built for,
# pytest and pytest-xdist (conformance runs the cases in parallel); the middlebox's rule
# goes in over netlink, so no firewall program. Recommends: what an outside C++ project needs to build on the
# installed API (headers and pkg-config files of the libraries the engine links).
# Suggests: what only some subcommands use (tcpfault vm; reading captures).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME tcpfault)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(TCPFAULT_PACKAGE_MAINTAINER "tcpfault maintainers" CACHE STRING
    "the Debian package's Maintainer field (name <address>) for a package that is handed out")
set(CPACK_PACKAGE_CONTACT "${TCPFAULT_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_DESCRIPTION
    "Two real TCP stacks talk across a middlebox network namespace that tcpfault controls: it drops,\n\
delays, reorders, duplicates, rewrites or injects specific segments and checks that each end\n\
reaches the states, sends the segments and returns the errors the RFCs say it must.\n\
This package has the tcpfault command, the conformance cases, the Python package with its\n\
pytest plugin (the net fixture), the lwIP reference agent and the C++ API (headers,\n\
static libraries, CMake package config and pkg-config file).")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(python_now ${Python_VERSION_MAJOR}.${Python_VERSION_MINOR})
math(EXPR python_next "${Python_VERSION_MINOR} + 1")
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "python3 (>= ${python_now}), python3 (<< ${Python_VERSION_MAJOR}.${python_next}), python3-pytest, python3-pytest-xdist")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS
    "g++, cmake, pkg-config, libnetfilter-queue-dev, libmnl-dev, libnl-3-dev, libnl-route-3-dev, libbpf-dev, nlohmann-json3-dev")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "tcpdump, tshark, qemu-system-x86, busybox-static, kmod, zstd")
# The package's binaries without their debugging sections (as Debian ships them).
set(CPACK_STRIP_FILES ON)
include(CPack)
