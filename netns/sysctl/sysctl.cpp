// Reading and writing sysctls inside a namespace.
//
// /proc/sys/net shows the network namespace of the thread that opens a file, so every
// open happens on a thread that has entered the target namespace. Writes are only
// allowed for keys that belong to a namespace; anything global is refused before a
// file is opened, and run-time checks catch global keys the catalog does not list.
#include "netns/sysctl/sysctl.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <sstream>

#include "netns/error.h"
#include "netns/sysctl/proc_file.h"
#include "netns/sysctl/sysctl_catalog.h"
#include "netns/sysctl/sysctl_key.h"

namespace tcpfault::netns {

namespace {

bool exists_in(const Namespace& ns, const std::string& path) {
  return ns.run([&] {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
  });
}

bool writable_in(const Namespace& ns, const std::string& path) {
  return ns.run([&] {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && (st.st_mode & S_IWUSR);
  });
}

std::string kernel_release() {
  utsname u{};
  if (::uname(&u) != 0) return "unknown";
  return u.release;
}

std::string global_error(const SysctlKey& key, const Namespace& ns) {
  const std::string name = key.dotted();
  std::string alternative;
  if (name == "net.core.rmem_max" || name == "net.core.rmem_default")
    alternative = "; per-namespace TCP receive buffers are net.ipv4.tcp_rmem";
  else if (name == "net.core.wmem_max" || name == "net.core.wmem_default")
    alternative = "; per-namespace TCP send buffers are net.ipv4.tcp_wmem";
  return "sysctl " + name + " is global to the host: writing it in namespace " + ns.name() +
         " would change it for the whole machine, so it is refused (set it on the host yourself "
         "if you mean to" +
         alternative + ")";
}

// Interface of a per-interface key such as net.ipv4.conf.<if>.rp_filter, if any.
std::optional<std::string> interface_of(const SysctlKey& key) {
  const auto& p = key.parts;
  if (p.size() < 4) return std::nullopt;
  if (p[1] != "ipv4" && p[1] != "ipv6" && p[1] != "mpls") return std::nullopt;
  if (p[2] != "conf" && p[2] != "neigh") return std::nullopt;
  if (p[3] == "all" || p[3] == "default") return std::nullopt;
  return p[3];
}

std::string list_dir(const Namespace& ns, const std::string& path) {
  return ns.run([&] {
    std::string names;
    DIR* dir = ::opendir(path.c_str());
    if (!dir) return names;
    while (dirent* e = ::readdir(dir)) {
      const std::string n = e->d_name;
      if (n == "." || n == ".." || n == "all" || n == "default") continue;
      names += (names.empty() ? "" : ", ") + n;
    }
    ::closedir(dir);
    return names;
  });
}

// Why `key` has no file inside `ns`, as an error to throw.
Error missing_error(const Namespace& ns, const SysctlKey& key) {
  const std::string name = key.dotted();
  if (auto version = removed_in(key))
    return Error("sysctl " + name + ": removed in Linux " + *version + " (this kernel is " +
                 kernel_release() + "); drop the setting");
  if (auto ifname = interface_of(key)) {
    SysctlKey dir, if_dir;
    dir.parts.assign(key.parts.begin(), key.parts.begin() + 3);
    if_dir.parts.assign(key.parts.begin(), key.parts.begin() + 4);
    if (!exists_in(ns, if_dir.path()))
      return Error("sysctl " + name + ": namespace " + ns.name() + " has no interface " +
                   *ifname + " (it has: " + list_dir(ns, dir.path()) + ")");
  }
  if (exists_in(Namespace::initial(), key.path())) return Error(global_error(key, ns));
  if (const AddedKey* added = added_later(key))
    return Error("unknown sysctl " + name + ": this kernel (" + kernel_release() + ") predates it (Linux " +
                 std::string(added->added_in) + " added it); without it " + std::string(added->behaviour) +
                 ", as with " + std::string(added->built_in));
  return Error("unknown sysctl " + name + ": no such key in this kernel");
}

void require_net(const SysctlKey& key, const char* action) {
  if (key.is_net()) return;
  throw Error("sysctl " + key.dotted() + " is not under net.: only network keys have a value " +
              "per namespace, so tcpfault does not " + action +
              " others (it would be the host's own setting)");
}

// A short description of what the kernel accepts, judged from the current value.
std::string shape_hint(const std::string& current) {
  std::istringstream in(current);
  std::string word;
  int words = 0;
  bool all_integers = true;
  while (in >> word) {
    ++words;
    const auto digits = word.find_first_not_of("-0123456789");
    if (digits != std::string::npos || word == "-") all_integers = false;
  }
  std::string hint = "current value is '" + current + "'";
  if (all_integers && words == 1) hint += ", an integer";
  if (all_integers && words > 1)
    hint += ", " + std::to_string(words) + " integers separated by spaces";
  return hint;
}

Error refused_error(const Namespace& ns, const SysctlKey& key, const std::string& value, int err) {
  const std::string name = key.dotted();
  std::string msg = "sysctl " + name + " = '" + value + "' refused by the kernel in namespace " +
                    ns.name() + ": " + std::strerror(err);
  const ProcRead current = ns.run([&] { return read_proc_file(key.path()); });
  if (err == EINVAL) {
    msg += " (the value is out of range or malformed";
    if (current.value) msg += "; " + shape_hint(*current.value);
    msg += ")";
  } else if (err == ENOENT && name == "net.ipv4.tcp_congestion_control") {
    const ProcRead available = ns.run(
        [] { return read_proc_file("/proc/sys/net/ipv4/tcp_available_congestion_control"); });
    msg += " (no such congestion control";
    if (available.value) msg += "; available: " + *available.value;
    msg += "; others need their module, e.g. modprobe tcp_" + value + ")";
  } else if (current.value) {
    msg += " (" + shape_hint(*current.value) + ")";
  }
  return Error(msg);
}

}  // namespace

std::string value_fields(std::string_view value) {
  std::istringstream in{std::string(value)};
  std::string out, field;
  while (in >> field) out += (out.empty() ? "" : " ") + field;
  return out;
}

bool has_sysctl(const Namespace& ns, std::string_view key_text) {
  try {
    return exists_in(ns, parse_sysctl_key(key_text).path());
  } catch (const Error&) {
    return false;
  }
}

std::string read_sysctl(const Namespace& ns, std::string_view key_text) {
  const SysctlKey key = parse_sysctl_key(key_text);
  require_net(key, "read");
  const std::string path = key.path();
  ProcRead r = ns.run([&] { return read_proc_file(path); });
  if (r.value) return *r.value;
  if (r.err == ENOENT && (is_host_global(key) || exists_in(Namespace::initial(), path)) &&
      !interface_of(key)) {
    // A global key has one value for the machine: that is the value in effect here too.
    r = Namespace::initial().run([&] { return read_proc_file(path); });
    if (r.value) return *r.value;
  }
  if (r.err == ENOENT) throw missing_error(ns, key);
  if (r.err == EACCES || r.err == EPERM)
    throw Error("sysctl " + key.dotted() + " cannot be read in namespace " + ns.name() +
                ": it is write-only");
  throw SystemError("read sysctl " + key.dotted() + " in namespace " + ns.name(), r.err);
}

void write_sysctl(const Namespace& ns, std::string_view key_text, std::string_view value_text) {
  write_sysctls(ns, {{std::string(key_text), std::string(value_text)}});
}

void write_sysctls(const Namespace& ns, const std::vector<std::pair<std::string, std::string>>& settings) {
  // Every setting is checked before the first is written.
  std::vector<SysctlKey> keys;
  keys.reserve(settings.size());
  for (const auto& [key_text, value] : settings) {
    const SysctlKey& key = keys.emplace_back(parse_sysctl_key(key_text));
    require_net(key, "write");
    if (value.find('\n') != std::string::npos)
      throw Error("sysctl " + key.dotted() + ": the value contains a newline; give one line");
    if (is_host_global(key)) throw Error(global_error(key, ns));
  }

  // One visit to the namespace for all of them; the first refusal stops it.
  std::size_t failed = settings.size();
  const int err = ns.run([&] {
    for (std::size_t i = 0; i < settings.size(); ++i)
      if (const int e = write_proc_file(keys[i].path(), settings[i].second); e != 0) {
        failed = i;
        return e;
      }
    return 0;
  });
  if (err == 0) return;
  const SysctlKey& key = keys[failed];
  const std::string path = key.path();
  if (err == ENOENT && !exists_in(ns, path)) throw missing_error(ns, key);
  if ((err == EACCES || err == EPERM) && !writable_in(ns, path)) {
    // Read-only here but writable on the host: the namespace only sees the host's value.
    if (writable_in(Namespace::initial(), path)) throw Error(global_error(key, ns));
    throw Error("sysctl " + key.dotted() + " is read-only");
  }
  throw refused_error(ns, key, settings[failed].second, err);
}

void apply_sysctl_conf(const Namespace& ns, std::string_view text) {
  for (const SysctlSetting& s : parse_sysctl_conf(text)) {
    try {
      write_sysctl(ns, s.key, s.value);
    } catch (const Error& e) {
      if (s.ignore_errors) continue;  // a '-' line: sysctl.d(5) says to carry on
      throw Error("line " + std::to_string(s.line) + ": " + e.what());
    }
  }
}

}  // namespace tcpfault::netns
