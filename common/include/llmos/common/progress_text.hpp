// How the command line writes sizes and progress for people: byte sizes in
// powers of 1024 ("12 B", "1.5 KiB") and a text bar ("#####.....").
// Pure functions returning owned strings: thread-safe. Not for the per-token path.
#pragma once
#include <cstdint>
#include <string>

namespace llmos {

// 12 -> "12 B", 1536 -> "1.5 KiB", up to TiB (one decimal past bytes).
std::string format_bytes(uint64_t bytes);

// 12 -> "12 bytes", 1536 -> "1536 bytes (1.5 KiB)": the exact count, and its
// short form once it reaches a KiB.
std::string format_bytes_exact(uint64_t bytes);

// A bar of `width` characters, '#' for the done part and '.' for the rest;
// `fraction` is clamped to [0, 1] (NaN counts as 0).
std::string progress_bar(double fraction, int width);

}  // namespace llmos
