#!/usr/bin/env bash
# The layering check catches what it is for: on a small made-up tree with one
# wrong include per rule (and right ones beside them) it fails, naming exactly
# the wrong ones by file, line and rule.
# Usage: layering_check_test.sh [PATH_TO_layering_check.sh]
set -eu
check=$(realpath "${1:-$(dirname "$0")/layering_check.sh}")
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
cd "$tree"

mkdir -p common/include/llmos/common model/gguf/include/llmos/gguf ipc/include/llmos/ipc \
  kernel/core services/model/engine/include/llmos/engine services/io/http \
  drivers/include/llmos/driver drivers/testing/include/llmos/driver/testing drivers/cpu \
  userland/client/include/llmos/client userland/cli common/testing tests
for h in common/include/llmos/common/status.hpp model/gguf/include/llmos/gguf/gguf_file.hpp \
  ipc/include/llmos/ipc/wire.hpp services/model/engine/include/llmos/engine/engine.hpp \
  services/model/engine/engine_test_util.hpp services/io/http/fake_backend.hpp \
  services/io/http/tiny_model.hpp drivers/include/llmos/driver/driver.hpp \
  drivers/testing/include/llmos/driver/testing/random_data.hpp \
  userland/client/include/llmos/client/client.hpp userland/cli/commands.hpp common/testing/shared_dir.hpp; do
  echo "#pragma once" >"$h"
done
lines() { printf '%s\n' "$@" >"${file:?}"; }

file=common/status.cpp lines '#include "llmos/common/status.hpp"' '#include "llmos/gguf/gguf_file.hpp"' \
  '#include "llmos/ipc/wire.hpp"'
file=model/gguf/gguf_file.cpp lines '#include "llmos/gguf/gguf_file.hpp"' '#  include <llmos/engine/engine.hpp>'
file=kernel/core/scheduler.cpp lines '#include "llmos/ipc/wire.hpp"' '#include "llmos/driver/driver.hpp"' \
  '#include "llmos/ipc/llmos.capnp.h"' '#include <vector>'
file=services/io/http/http_server.cpp lines '#include "llmos/engine/engine.hpp"' '#include "fake_backend.hpp"' \
  '#include "../../../userland/cli/commands.hpp"'
file=services/io/http/http_server_test.cpp lines '#include "fake_backend.hpp"' '#include "tiny_model.hpp"' \
  '#include "llmos/client/client.hpp"'
file=drivers/cpu/kernels.cpp lines '#include "llmos/driver/driver.hpp"' '#include "llmos/driver/testing/random_data.hpp"'
file=userland/cli/main.cpp lines '#include "commands.hpp"' '#include "llmos/engine/engine.hpp"' '#include "shared_dir.hpp"'
file=tests/system_test.cpp lines '#include "shared_dir.hpp"' '#include "llmos/client/client.hpp"' \
  '#include "llmos/driver/testing/random_data.hpp"'

expected='common/status.cpp:3: [leaf]
drivers/cpu/kernels.cpp:2: [test-only]
kernel/core/scheduler.cpp:2: [kernel]
model/gguf/gguf_file.cpp:2: [leaf]
services/io/http/http_server.cpp:2: [test-only]
services/io/http/http_server.cpp:3: [userland]
services/io/http/http_server_test.cpp:3: [userland]
userland/cli/main.cpp:3: [test-only]'

set +e
out=$(bash "$check" "$tree" 2>&1)
rc=$?
set -e
got=$(grep -o '^[^ ]*: \[[a-z-]*\]' <<<"$out" | sort)
if [ "$rc" -ne 1 ] || [ "$got" != "$expected" ]; then
  echo "layering_check.sh (exit $rc) said:"
  echo "$out"
  echo "expected exit 1 and exactly:"
  echo "$expected"
  exit 1
fi
echo "layering_check_test: the check names each of the $(wc -l <<<"$expected") wrong includes, and only them"
