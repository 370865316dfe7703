// The reduced demo kit's directory, built on first use (see reduced_kit.h); a plain header for
// test code that must not see torch headers (Qt tests).
#pragma once

#include <string>

namespace ms::test {

std::string reducedKitDir();

}  // namespace ms::test
