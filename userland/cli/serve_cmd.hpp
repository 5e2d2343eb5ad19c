// `llmos serve`: the OpenAI-compatible HTTP API. Declared apart from
// commands.hpp until the command line's owner folds it in.
#pragma once

namespace llmos::cli {

int cmd_serve(int argc, char** argv);  // serve_cmd.cpp

}  // namespace llmos::cli
