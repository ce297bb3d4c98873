// A machine-wide claim on one topology slot (see slot_plan.h).
//
// The claim is an abstract unix socket bound to "\0tcpfault/slot/<n>" in the namespace
// the process started in. Binding is atomic, so the first free n wins without any lock
// file, and the kernel drops the name when the socket closes: a crashed or killed
// process frees its slots by itself.
#pragma once

#include <optional>
#include <string>

#include "netns/unique_fd.h"

namespace tcpfault::netns {

class AddressSlot {
 public:
  // The lowest free slot. Throws Error when all kSlotCount slots are taken.
  static AddressSlot acquire();
  // Slot n if it is free now, otherwise nothing.
  static std::optional<AddressSlot> try_acquire(int n);

  int number() const { return number_; }
  // The socket that holds the claim; closing it frees the slot.
  UniqueFd release_lock() { return std::move(lock_); }

  static std::string socket_name(int n);  // "tcpfault/slot/<n>" (without the leading NUL)

 private:
  AddressSlot(int number, UniqueFd lock) : number_(number), lock_(std::move(lock)) {}
  int number_;
  UniqueFd lock_;
};

}  // namespace tcpfault::netns
