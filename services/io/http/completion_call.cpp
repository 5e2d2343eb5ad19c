#include "completion_call.hpp"

#include <algorithm>
#include <ctime>
#include <random>

#include "api_error.hpp"
#include "apply_template.hpp"
#include "chat_template.hpp"
#include "ollama_response.hpp"

namespace llmos::http {

CompletionCall::CompletionCall(std::shared_ptr<ServerContext> ctx, CompletionRequest request, ModelInfo model,
                               std::weak_ptr<Exchange> exchange, boost::asio::any_io_executor executor,
                               Clock::time_point received)
    : ctx_(std::move(ctx)),
      request_(std::move(request)),
      model_(std::move(model)),
      exchange_(std::move(exchange)),
      executor_(std::move(executor)),
      received_(received) {
  meta_.kind = request_.kind;
  meta_.id = completion_id(request_.kind, ctx_->id_salt, ctx_->next_id.fetch_add(1));
  meta_.created = int64_t(std::time(nullptr));
  meta_.model = model_.name;
}

const char* CompletionCall::endpoint() const {
  if (request_.ollama) return "ollama";
  return request_.kind == ApiKind::kChat ? "chat_completions" : "completions";
}

Result<GenerationParams> CompletionCall::build_params() const {
  GenerationBackend& backend = ctx_->backend;
  GenerationParams p;
  p.model = model_.name;
  if (request_.kind == ApiKind::kChat) {
    LLMOS_ASSIGN_OR_RETURN(PromptInfo info, backend.prompt_info(model_.name));
    if (info.chat) {
      // The model's template renders the whole prompt; its own control tokens
      // are parsed as llama.cpp does (BOS is not doubled when the template
      // writes it), while message content stays ordinary text.
      ChatTemplateInput input;
      input.messages = chat_messages_json(request_.messages);
      LLMOS_ASSIGN_OR_RETURN(auto pieces, info.chat->apply_pieces(input, jinja::template_clock_now()));
      LLMOS_ASSIGN_OR_RETURN(p.prompt, backend.tokenize(model_.name, pieces, /*add_bos=*/true));
    } else if (!info.chat_template_error.empty()) {
      return failed(info.chat_template_error);
    } else {
      const auto pieces = render_plain_chat(request_.messages);
      LLMOS_ASSIGN_OR_RETURN(p.prompt, backend.tokenize(model_.name, pieces, /*add_bos=*/true));
    }
  } else if (request_.prompt_is_ids) {
    p.prompt = request_.prompt_ids;
  } else {
    const PromptPiece piece{request_.prompt, false};
    LLMOS_ASSIGN_OR_RETURN(p.prompt, backend.tokenize(model_.name, std::span(&piece, 1), /*add_bos=*/true));
  }
  p.sampling = request_.sampling;
  if (!request_.seed_given) p.sampling.seed = std::random_device{}();
  // OpenAI's defaults: 16 tokens for completions, up to the context for chat.
  // Ollama's num_predict -1 (its default): up to the context.
  const bool to_context = request_.kind == ApiKind::kChat || request_.ollama;
  p.max_tokens = request_.max_tokens.value_or(to_context ? std::max(1, model_.context_length) : 16);
  p.stop = request_.stop;
  p.priority = request_.priority;
  p.keep_alive = request_.keep_alive;
  p.reservation = request_.reservation;
  return p;
}

void CompletionCall::start() {
  // Rendering and tokenizing a long prompt takes a while: off the I/O thread,
  // back to this call's strand to submit (through the gate, so nothing is
  // posted once the server stops). A call gone meanwhile is skipped.
  auto back = strand_callback<CompletionCall, Result<GenerationParams>&&>(
      ctx_->gate, weak_from_this(),
      [](CompletionCall& c, Result<GenerationParams>&& params) { c.submit_params(std::move(params)); });
  boost::asio::post(ctx_->prompt_pool, [weak = weak_from_this(), back = std::move(back)] {
    Result<GenerationParams> params = failed("not built");
    {
      auto self = weak.lock();
      if (!self) return;
      params = self->build_params();
    }
    back(std::move(params));
  });
}

void CompletionCall::submit_params(Result<GenerationParams> params) {
  if (finished_) return;  // cancelled while its prompt was built
  if (!params.ok()) {
    finish_error(params.status());
    return;
  }
  auto handle = ctx_->backend.submit(
      std::move(*params),
      strand_callback<CompletionCall, GenerationEvent&&>(
          ctx_->gate, weak_from_this(), [](CompletionCall& c, GenerationEvent&& ev) { c.on_event(std::move(ev)); }));
  if (!handle.ok()) {
    finish_error(handle.status());
    return;
  }
  handle_ = *handle;
  // A stream begins with the first event, not here: an error the backend
  // reports after submit() (an IPC backend learns of a full queue or a bad
  // prompt from the kernel) still gets its own status line (429, 400, ...).
}

void CompletionCall::begin_stream() {
  auto ex = exchange_.lock();
  if (!ex) return;
  streaming_ = true;
  ex->stream_begin(request_.ollama ? "application/x-ndjson" : "text/event-stream");
  if (request_.kind == ApiKind::kChat && !request_.ollama) ex->stream_write(sse_event(stream_chunk(meta_, "", nullptr, true)));
}

void CompletionCall::cancel() {
  if (finished_) return;
  finished_ = true;
  if (handle_) ctx_->backend.cancel(*handle_);
  ctx_->metrics.count_request(endpoint(), "cancelled");
}

void CompletionCall::on_event(GenerationEvent&& ev) {
  if (finished_) return;
  if (request_.stream && !streaming_ && !(ev.done && ev.finish == FinishReason::kError)) begin_stream();
  const auto now = Clock::now();
  if (ev.token >= 0) {
    if (tokens_seen_ == 0) {
      first_token_ = now;
      ctx_->metrics.observe_time_to_first_token(std::chrono::duration<double>(now - received_).count());
    } else {
      ctx_->metrics.observe_time_per_output_token(std::chrono::duration<double>(now - last_token_).count());
    }
    ++tokens_seen_;
    last_token_ = now;
  }
  if (!ev.text.empty()) {
    if (streaming_) {
      if (auto ex = exchange_.lock()) {
        ex->stream_write(request_.ollama ? json_text(ollama_chunk(meta_.model, request_.ollama_chat, ev.text)) + "\n"
                                         : sse_event(stream_chunk(meta_, ev.text, nullptr, false)));
      }
    } else {
      text_ += ev.text;
    }
  }
  if (!ev.done) return;
  if (ev.finish == FinishReason::kError) {
    finish_error(ev.error.ok() ? internal_error("generation failed") : ev.error);
  } else {
    finish_ok(ev.finish, ev.usage);
  }
}

void CompletionCall::finish_ok(FinishReason finish, const Usage& usage) {
  finished_ = true;
  ctx_->metrics.count_request(endpoint(), "ok");
  ctx_->metrics.add_tokens(uint64_t(usage.prompt_tokens), uint64_t(usage.completion_tokens));
  auto ex = exchange_.lock();
  if (!ex) return;
  if (request_.ollama) {
    const auto end = Clock::now();
    auto ns = [](Clock::duration d) { return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count(); };
    OllamaTimings t;
    t.total_ns = ns(end - received_);
    t.prompt_eval_ns = tokens_seen_ > 0 ? ns(first_token_ - received_) : t.total_ns;
    t.eval_ns = tokens_seen_ > 0 ? ns(last_token_ - first_token_) : 0;
    std::string body = json_text(ollama_final(meta_.model, request_.ollama_chat, streaming_ ? "" : text_, finish, usage, t));
    if (streaming_) {
      ex->stream_write(body + "\n");
      ex->stream_end();
    } else {
      ex->reply(ApiReply{200, "application/json; charset=utf-8", std::move(body), {}});
    }
    return;
  }
  if (streaming_) {
    std::string tail = sse_event(stream_chunk(meta_, "", &finish, false));
    if (request_.include_usage) tail += sse_event(usage_chunk(meta_, usage));
    tail += kSseDone;
    ex->stream_write(std::move(tail));
    ex->stream_end();
  } else {
    ex->reply(ApiReply{200, "application/json", json_text(completion_body(meta_, text_, finish, usage)), {}});
  }
}

void CompletionCall::finish_error(const Status& status) {
  finished_ = true;
  ApiError err = api_error_from_status(status);
  if (status.code() == ErrorCode::kNotFound) err.code = "model_not_found";
  ctx_->metrics.count_request(endpoint(), outcome_of_status(err.status));
  auto ex = exchange_.lock();
  if (!ex) return;
  if (request_.ollama) {  // Ollama's {"error": "..."}, a line of the stream once it began
    const std::string body = json_text(nlohmann::json{{"error", status.message()}});
    if (streaming_) {
      ex->stream_write(body + "\n");
      ex->stream_end();
    } else {
      ex->reply(ApiReply{err.status, "application/json; charset=utf-8", body, {}});
    }
    return;
  }
  if (streaming_) {
    // The status line is gone already: the error travels as an event.
    ex->stream_write("data: " + api_error_body(err) + "\n\n" + std::string(kSseDone));
    ex->stream_end();
  } else {
    ex->reply(ApiReply{err.status, "application/json", api_error_body(err), {}});
  }
}

}  // namespace llmos::http
