// Per-namespace sysctls: read, write, and apply sysctl.conf text.
//
// Only keys under net. that belong to a network namespace are ever written; a global
// key would change the host, so it is refused with an error naming it.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "netns/namespace.h"

namespace tcpfault::netns {

// "net.ipv4.tcp_fin_timeout" (or "net/ipv4/tcp_fin_timeout") -> value as the kernel prints
// it, trailing newline removed, tabs between fields kept. Throws Error for unknown keys
// (and names keys the kernel removed, such as net.ipv4.tcp_tw_recycle). A key global to
// the host (net.core.netdev_max_backlog) reads the host's value: it is the one in effect
// in every namespace. Only keys under net. are read.
std::string read_sysctl(const Namespace& ns, std::string_view key);

// A value with its fields separated by one space: "40000\t40003" and " 40000 40003" are
// the same setting.
std::string value_fields(std::string_view value);

// Whether this kernel has the key inside `ns` (false too for a malformed name).
bool has_sysctl(const Namespace& ns, std::string_view key);

// Writes a value inside `ns`. Throws Error with the key, the value and the kernel's
// reason (EINVAL = out of range or malformed, with the current value as a hint) when
// the kernel refuses it, and refuses keys outside net. or global to the host.
void write_sysctl(const Namespace& ns, std::string_view key, std::string_view value);

// Writes several (key, value) settings inside `ns` in order, entering it once rather than
// once per key (a topology's setup writes a dozen). Every setting is checked before the
// first is written; the first refusal stops it with write_sysctl's error.
void write_sysctls(const Namespace& ns, const std::vector<std::pair<std::string, std::string>>& settings);

struct SysctlSetting {
  std::string key;    // dotted form
  std::string value;
  bool ignore_errors = false;  // the line began with '-'
  int line = 0;
};

// Parses sysctl.conf syntax: '#' and ';' comments, blank lines, `key = value`,
// `key=value`, a leading '-' meaning ignore errors. Throws Error "line N: ..." on
// a malformed line.
std::vector<SysctlSetting> parse_sysctl_conf(std::string_view text);

struct SysctlConfError {
  int line = 0;
  std::string message;  // "line N: ..."
};

struct SysctlConf {
  std::vector<SysctlSetting> settings;
  std::vector<SysctlConfError> errors;  // the malformed lines, each with what is wrong
};

// Like parse_sysctl_conf, but reads on past a malformed line, as sysctl(8) does: every
// well-formed setting, and every malformed line with its error.
SysctlConf read_sysctl_conf(std::string_view text);

// Parses and writes each setting inside `ns`; errors of '-' lines are ignored.
void apply_sysctl_conf(const Namespace& ns, std::string_view text);

}  // namespace tcpfault::netns
