#!/usr/bin/env bash
# The README's first command: installs what is missing, builds llmos (Release)
# and runs the main job, a generation on a model that needs no download — the
# shared stories260K model when ../shared is beside the checkout, otherwise a
# seeded tiny model written by llmos-mkmodel.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target llmos llmos-mkmodel
model=../shared/models/stories260K.gguf
if [ ! -f "$model" ]; then
  model=build/models/tiny-q8_0.gguf
  mkdir -p build/models
  [ -f "$model" ] || build/bin/llmos-mkmodel --out "$model" --preset tiny --type q8_0 --seed 1
fi
prompt="${1:-Once upon a time}"
echo "llmos generate --local --model $model --prompt \"$prompt\""
build/bin/llmos generate --local --model "$model" --prompt "$prompt" --max-tokens 96 --seed 42
