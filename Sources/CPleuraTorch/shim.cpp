// libtorch behind a C API. Every entry point catches every exception and turns it into a message.
#include "pleura_torch.h"

#include <torch/script.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/autograd.h>

#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <vector>

struct pleura_torch_model {
    torch::jit::Module module;
};

struct pleura_torch_result {
    std::vector<std::string> head_names;
    std::vector<std::vector<float>> head_logits;
    int64_t channels = 0, height = 0, width = 0;
    std::vector<float> features;
    std::vector<std::vector<float>> gradients;
};

namespace {

void set_error(char *err, size_t err_len, const std::string &message) {
    if (!err || err_len == 0) return;
    // libtorch messages carry multi-line C++ backtraces: keep the first line, which says what is wrong.
    std::string line = message.substr(0, message.find('\n'));
    size_t n = std::min(line.size(), err_len - 1);
    std::memcpy(err, line.data(), n);
    err[n] = '\0';
}

// The exception being handled as one error line "PREFIX: what" (called from a catch (...) block,
// so every entry point reports libtorch, standard and unknown exceptions alike).
void set_error_from_current_exception(char *err, size_t err_len, const char *prefix) {
    try {
        throw;
    } catch (const c10::Error &e) {
        set_error(err, err_len, std::string(prefix) + ": " + e.what_without_backtrace());
    } catch (const std::exception &e) {
        set_error(err, err_len, std::string(prefix) + ": " + e.what());
    } catch (...) {
        set_error(err, err_len, std::string(prefix) + " (unknown error)");
    }
}

std::vector<float> to_vector(const at::Tensor &t) {
    at::Tensor c = t.detach().to(at::kFloat).contiguous();
    return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

/// The head outputs as (name, logits of the first batch element), in the order `head` returned them.
std::vector<std::pair<std::string, at::Tensor>> heads_of(const c10::IValue &out) {
    std::vector<std::pair<std::string, at::Tensor>> heads;
    if (out.isTensor()) {
        heads.emplace_back("", out.toTensor());
    } else if (out.isGenericDict()) {
        for (const auto &entry : out.toGenericDict()) {
            if (!entry.key().isString() || !entry.value().isTensor())
                throw std::runtime_error("head(A) must return a tensor or a Dict[str, Tensor]");
            heads.emplace_back(entry.key().toStringRef(), entry.value().toTensor());
        }
    } else if (out.isTuple()) {
        auto elements = out.toTupleRef().elements();
        for (size_t i = 0; i < elements.size(); i++) {
            if (!elements[i].isTensor()) throw std::runtime_error("head(A) returned a tuple of non-tensors");
            heads.emplace_back(std::to_string(i), elements[i].toTensor());
        }
    } else {
        throw std::runtime_error("head(A) returned " + out.tagKind() + ", not a tensor or Dict[str, Tensor]");
    }
    for (auto &h : heads) {
        at::Tensor t = h.second;
        if (t.dim() == 2 && t.size(0) == 1) h.second = t[0];
        else if (t.dim() == 1) h.second = t;
        else throw std::runtime_error("head '" + h.first + "' has shape " + c10::str(t.sizes()) +
                                      ", expected [1, classes]");
    }
    return heads;
}

}  // namespace

extern "C" int pleura_torch_api_version(void) { return 2; }

extern "C" void pleura_torch_set_threads(int threads) {
    try {
        if (threads > 0) at::set_num_threads(threads);
    } catch (...) {
    }
}

extern "C" int pleura_torch_get_threads(void) {
    try {
        return at::get_num_threads();
    } catch (...) {
        return -1;
    }
}

extern "C" pleura_torch_model *pleura_torch_load(const char *path, char *err, size_t err_len) {
    try {
        auto model = std::make_unique<pleura_torch_model>();
        model->module = torch::jit::load(path, torch::kCPU);
        model->module.eval();
        for (const char *name : {"features", "head"}) {
            if (!model->module.find_method(name)) {
                set_error(err, err_len, std::string("TorchScript module has no method '") + name +
                                            "' (the model contract needs features(x) and head(A); "
                                            "wrap it with Scripts/export_model.py)");
                return nullptr;
            }
        }
        return model.release();
    } catch (...) {
        set_error_from_current_exception(err, err_len, "not a loadable TorchScript file");
    }
    return nullptr;
}

extern "C" void pleura_torch_free(pleura_torch_model *model) { delete model; }

extern "C" pleura_torch_result *pleura_torch_run(pleura_torch_model *model, const float *input, int channels,
                                                 int height, int width, const char *const *target_heads,
                                                 const int *target_classes, int target_count, char *err,
                                                 size_t err_len) {
    try {
        if (!model || !input || channels <= 0 || height <= 0 || width <= 0 || target_count < 0)
            throw std::runtime_error("invalid arguments to pleura_torch_run");
        at::Tensor x = torch::from_blob(const_cast<float *>(input), {1, channels, height, width}, at::kFloat);
        at::Tensor features;
        {
            torch::NoGradGuard no_grad;
            c10::IValue a = model->module.get_method("features")({x});
            if (!a.isTensor()) throw std::runtime_error("features(x) did not return a tensor");
            features = a.toTensor();
        }
        if (features.dim() != 4 || features.size(0) != 1)
            throw std::runtime_error("features(x) has shape " + c10::str(features.sizes()) +
                                     ", expected [1, channels, height, width]");
        // Detached leaf: head(A) builds a fresh graph on every call, so repeated gradients work
        // under the profiling executor.
        at::Tensor leaf = features.detach().to(at::kFloat).contiguous().requires_grad_(target_count > 0);
        c10::IValue out;
        if (target_count > 0) {
            out = model->module.get_method("head")({leaf});
        } else {
            torch::NoGradGuard no_grad;
            out = model->module.get_method("head")({leaf});
        }
        auto heads = heads_of(out);

        auto result = std::make_unique<pleura_torch_result>();
        for (auto &h : heads) {
            result->head_names.push_back(h.first);
            result->head_logits.push_back(to_vector(h.second));
        }
        result->channels = leaf.size(1);
        result->height = leaf.size(2);
        result->width = leaf.size(3);
        result->features = to_vector(leaf);
        for (int t = 0; t < target_count; t++) {
            std::string name = target_heads[t] ? target_heads[t] : "";
            const at::Tensor *logits = nullptr;
            for (auto &h : heads)
                if (h.first == name) logits = &h.second;
            if (!logits) throw std::runtime_error("the model has no head named '" + name + "'");
            int c = target_classes[t];
            if (c == -1) c = (int)logits->argmax().item<int64_t>();   // -1: the head's top class
            if (c < 0 || c >= logits->size(0))
                throw std::runtime_error("class index " + std::to_string(c) + " is outside head '" + name +
                                         "' (" + std::to_string(logits->size(0)) + " classes)");
            if (!logits->requires_grad())
                throw std::runtime_error("head '" + name + "' does not depend on features(x): no gradient");
            auto grads = torch::autograd::grad({(*logits)[c]}, {leaf}, /*grad_outputs=*/{},
                                               /*retain_graph=*/t + 1 < target_count, /*create_graph=*/false,
                                               /*allow_unused=*/true);
            if (!grads[0].defined()) result->gradients.emplace_back(result->features.size(), 0.0f);
            else result->gradients.push_back(to_vector(grads[0]));
        }
        return result.release();
    } catch (...) {
        set_error_from_current_exception(err, err_len, "model failed");
    }
    return nullptr;
}

extern "C" void pleura_torch_result_free(pleura_torch_result *result) { delete result; }

extern "C" int pleura_torch_result_head_count(const pleura_torch_result *r) { return (int)r->head_names.size(); }
extern "C" const char *pleura_torch_result_head_name(const pleura_torch_result *r, int i) {
    return r->head_names[i].c_str();
}
extern "C" int64_t pleura_torch_result_head_size(const pleura_torch_result *r, int i) {
    return (int64_t)r->head_logits[i].size();
}
extern "C" const float *pleura_torch_result_head_logits(const pleura_torch_result *r, int i) {
    return r->head_logits[i].data();
}
extern "C" void pleura_torch_result_features_shape(const pleura_torch_result *r, int64_t *c, int64_t *h, int64_t *w) {
    *c = r->channels;
    *h = r->height;
    *w = r->width;
}
extern "C" const float *pleura_torch_result_features(const pleura_torch_result *r) { return r->features.data(); }
extern "C" const float *pleura_torch_result_gradient(const pleura_torch_result *r, int t) {
    if (t < 0 || t >= (int)r->gradients.size()) return nullptr;
    return r->gradients[t].data();
}
