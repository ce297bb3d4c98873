#include "netns/sysctl/sysctl_probe.h"

#include <sys/stat.h>
#include <sys/utsname.h>

#include <cstring>
#include <sstream>

#include "netns/error.h"
#include "netns/namespace.h"
#include "netns/sysctl/proc_file.h"
#include "netns/sysctl/sysctl_catalog.h"
#include "netns/sysctl/sysctl_key.h"

namespace tcpfault::netns {

namespace {

struct FileState {
  bool exists = false;
  bool writable = false;
};

FileState state_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  return {true, (st.st_mode & S_IWUSR) != 0};
}

std::string kernel_release() {
  utsname u{};
  return ::uname(&u) == 0 ? u.release : "unknown";
}

// net.ipv4.conf.<interface>.* and the like, except all and default.
bool per_interface(const SysctlKey& key) {
  const auto& p = key.parts;
  return p.size() >= 5 && (p[1] == "ipv4" || p[1] == "ipv6") && (p[2] == "conf" || p[2] == "neigh") &&
         p[3] != "all" && p[3] != "default";
}

std::string fields_phrase(std::size_t n) {
  return n == 1 ? "one integer" : std::to_string(n) + " integers separated by spaces";
}

std::string ranges_phrase(const std::vector<FieldRange>& ranges, const std::string& default_value) {
  auto range = [](const FieldRange& r) { return std::to_string(r.lo) + ".." + std::to_string(r.hi); };
  if (ranges.size() == 1) return "this kernel accepts " + range(ranges[0]);
  std::string out = "this kernel accepts";
  for (std::size_t i = 0; i < ranges.size(); ++i)
    out += (i ? ", field " : " field ") + std::to_string(i + 1) + " in " + range(ranges[i]);
  std::string shown = default_value;
  for (char& c : shown) c = c == '\t' ? ' ' : c;
  return out + " (each with the others at the default '" + shown + "')";
}

// The message for a value the kernel refused with EINVAL, from its integer shape.
std::string refused_message(SysctlProbe& p, const std::string& value, const std::string& path) {
  const std::string intro = p.key + " = '" + value + "' is refused by the kernel: ";
  const auto defaults = integer_fields(p.default_value);
  if (!defaults) return intro + "malformed or out of range (its value now is '" + p.default_value + "')";
  const auto ranges = accepted_ranges(path, *defaults);
  if (ranges) p.accepted = *ranges;
  const std::string accepts = ranges ? "; " + ranges_phrase(*ranges, p.default_value) : "";

  const auto given = integer_fields(value);
  if (!given)
    return intro + "malformed: it takes " + fields_phrase(defaults->size()) + accepts;
  if (given->size() > defaults->size())
    return intro + "it has " + std::to_string(given->size()) + " fields, the key takes " +
           fields_phrase(defaults->size()) + accepts;
  std::string outside;
  for (std::size_t i = 0; ranges && i < given->size(); ++i) {
    const FieldRange& r = (*ranges)[i];
    if ((*given)[i] < r.lo || (*given)[i] > r.hi)
      outside += (outside.empty() ? "" : ", ") + std::string(given->size() > 1 ? "field " + std::to_string(i + 1) + " " : "") +
                 std::to_string((*given)[i]);
  }
  if (!outside.empty()) return intro + "out of range (" + outside + ")" + accepts;
  if (ranges) return intro + "each field is within its range alone, but not the combination" + accepts;
  return intro + "out of range or malformed";
}

std::string shape_problem(const std::string& value, const std::string& host_value) {
  const auto host = integer_fields(host_value);
  if (!host) return "";
  const auto given = integer_fields(value);
  if (given && given->size() <= host->size()) return "";
  return "'" + value + "' is malformed: the key takes " + fields_phrase(host->size()) +
         " (the host has '" + host_value + "')";
}

void examine_missing(SysctlProbe& p, const SysctlKey& key) {
  if (auto version = removed_in(key)) {
    p.verdict = SysctlVerdict::removed;
    p.message = p.key + " was removed in Linux " + *version + " (this kernel is " + kernel_release() +
                "): sysctl -p fails on this line; drop it";
  } else if (!p.host_value.empty()) {
    p.verdict = SysctlVerdict::not_per_netns;
  } else {
    p.verdict = SysctlVerdict::unknown;
    p.message = "unknown key " + p.key + ": this kernel (" + kernel_release() + ") has no such sysctl";
    if (const AddedKey* added = added_later(key))
      p.message += " (Linux " + std::string(added->added_in) + " added it): sysctl -p fails on this line; " +
                   "without it " + std::string(added->behaviour) + ", as with " + std::string(added->built_in);
  }
}

std::string not_per_netns_message(const SysctlProbe& p, bool is_net) {
  return p.key + (is_net ? " is global to the machine, not per network namespace"
                         : " is not a network key: it has one value for the whole machine") +
         ": a namespace cannot have a value of its own, so the check cannot run it (that would change "
         "the host) and never writes it; what it does is not shown (the host has '" + p.host_value + "')";
}

}  // namespace

const char* to_string(SysctlVerdict v) {
  switch (v) {
    case SysctlVerdict::valid: return "valid";
    case SysctlVerdict::malformed_key: return "malformed_key";
    case SysctlVerdict::unknown: return "unknown";
    case SysctlVerdict::removed: return "removed";
    case SysctlVerdict::not_per_netns: return "not_per_netns";
    case SysctlVerdict::other_interface: return "other_interface";
    case SysctlVerdict::read_only: return "read_only";
    case SysctlVerdict::refused: return "refused";
  }
  return "?";
}

SysctlProbe probe_sysctl(std::string_view key_text, std::optional<std::string_view> value_text) {
  SysctlProbe p;
  p.key = std::string(key_text);
  SysctlKey key;
  try {
    key = parse_sysctl_key(key_text);
  } catch (const Error& e) {
    p.verdict = SysctlVerdict::malformed_key;
    p.message = e.what();
    return p;
  }
  p.key = key.dotted();
  const std::string path = key.path();
  const std::string value = value_text ? std::string(*value_text) : "";
  if (value.find('\n') != std::string::npos) {
    p.verdict = SysctlVerdict::refused;
    p.message = p.key + ": the value contains a newline; give one line";
    return p;
  }

  const ProcRead host = Namespace::initial().run([&] { return read_proc_file(path); });
  const FileState on_host = Namespace::initial().run([&] { return state_of(path); });
  if (host.value) p.host_value = *host.value;

  if (!key.is_net()) {
    examine_missing(p, key);
    if (on_host.exists) {
      p.verdict = SysctlVerdict::not_per_netns;
      p.message = not_per_netns_message(p, false);
    }
  } else if (per_interface(key)) {
    p.verdict = SysctlVerdict::other_interface;
    p.message = p.key + " is per interface (" + key.parts[3] +
                "): the check's namespaces have their own interfaces, not the host's, so it is not run "
                "(keys under conf.all and conf.default are)";
    return p;
  } else {
    const Namespace scratch = Namespace::create("sysctl-check");
    scratch.run([&] {
      const FileState here = state_of(path);
      if (const ProcRead r = read_proc_file(path); r.value) p.default_value = *r.value;
      if (!here.exists) {
        examine_missing(p, key);
      } else if (is_host_global(key) || (!here.writable && on_host.writable)) {
        p.verdict = SysctlVerdict::not_per_netns;
      } else if (!here.writable) {
        p.verdict = SysctlVerdict::read_only;
        p.message = p.key + " is read-only";
      } else if (!value_text) {
        p.verdict = SysctlVerdict::valid;
      } else if (const int err = write_proc_file(path, value); err == 0) {
        p.verdict = SysctlVerdict::valid;
        p.value = read_proc_file(path).value.value_or(value);
      } else {
        p.verdict = SysctlVerdict::refused;
        if (err == EINVAL) {
          p.message = refused_message(p, value, path);
        } else {
          p.message = p.key + " = '" + value + "' is refused by the kernel: " + std::strerror(err);
          if (p.key == "net.ipv4.tcp_congestion_control")
            if (auto available = read_proc_file("/proc/sys/net/ipv4/tcp_available_congestion_control").value)
              p.message += " (available here: " + *available + "; others need their module)";
        }
      }
    });
    if (p.verdict == SysctlVerdict::not_per_netns) p.message = not_per_netns_message(p, true);
  }

  if (p.verdict == SysctlVerdict::not_per_netns && value_text) {
    const std::string problem = shape_problem(value, p.host_value);
    if (!problem.empty()) {
      p.value_malformed = true;
      p.message += "; and " + problem;
    }
  }
  return p;
}

}  // namespace tcpfault::netns
