// What every example shares: the flags (--data DIR --epochs N --batch-size B --seed S --threads T --out MODEL,
// plus --steps N for quick runs), finding the data set, and the message telling where to download it.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "lumen/core/error.hpp"
#include "lumen/core/threads.hpp"

#ifndef LUMEN_SHARED_DATA_DIR
#define LUMEN_SHARED_DATA_DIR ""
#endif

namespace examples {

namespace fs = std::filesystem;

// The flags of an example. Defaults are the tutorial's; every field can be overridden on the command line.
struct Args {
    fs::path data;            // the data set folder (found by find_data when not given)
    int epochs = 10;
    int batch_size = 32;
    std::uint64_t seed = 123;
    int threads = 0;          // 0: lumen's default (OMP_NUM_THREADS or all cores)
    fs::path out;             // the saved model; the pictures go next to it
    long steps = 0;           // > 0: at most this many batches per epoch (a quick smoke run)
    std::map<std::string, std::string> extra;  // example-specific flags, e.g. --model tutorial
};

// An example-specific flag: name (without --), default value, help text.
struct ExtraFlag {
    std::string name, value, help;
};

inline void print_usage(const std::string& program, const std::string& what, const Args& d,
                        const std::vector<ExtraFlag>& extra) {
    std::cout << "usage: " << program << " [flags]\n" << what << "\n\nflags:\n"
              << "  --data DIR        the data set folder (default: " << (d.data.empty() ? "auto" : d.data.string())
              << ")\n"
              << "  --epochs N        training epochs (default " << d.epochs << ")\n"
              << "  --batch-size B    samples per batch (default " << d.batch_size << ")\n"
              << "  --seed S          seed of weights, shuffling and augmentation (default " << d.seed << ")\n"
              << "  --threads T       worker threads (default: all cores)\n"
              << "  --out MODEL       where to save the model (default " << d.out.string() << ")\n"
              << "  --steps N         at most N batches per epoch, for a quick try (default: all)\n";
    for (const auto& f : extra) std::cout << "  --" << f.name << " V" << std::string(f.name.size() < 14 ? 14 - f.name.size() : 1, ' ') << f.help << " (default " << f.value << ")\n";
    std::cout << "  --help            this text\n";
}

// Parses argv over the defaults in `d`; exits with status 2 and a message naming the flag on a bad one.
inline Args parse_args(int argc, char** argv, Args d, const std::string& what, const std::vector<ExtraFlag>& extra = {}) {
    for (const auto& f : extra) d.extra[f.name] = f.value;
    const std::string program = fs::path(argv[0]).filename().string();
    auto bad = [&](const std::string& msg) {
        std::cerr << program << ": " << msg << " (see --help)\n";
        std::exit(2);
    };
    auto number = [&](const std::string& flag, const std::string& v, long lo) {
        char* end = nullptr;
        const long long n = std::strtoll(v.c_str(), &end, 10);
        if (v.empty() || *end != '\0' || n < lo) bad("flag " + flag + " needs an integer >= " + std::to_string(lo) + ", got \"" + v + "\"");
        return n;
    };
    for (int i = 1; i < argc; ++i) {
        std::string flag = argv[i];
        if (flag == "--help" || flag == "-h") {
            print_usage(program, what, d, extra);
            std::exit(0);
        }
        std::string value;
        if (const auto eq = flag.find('='); eq != std::string::npos) {
            value = flag.substr(eq + 1);
            flag = flag.substr(0, eq);
        } else {
            if (flag.rfind("--", 0) != 0) bad("unexpected argument \"" + flag + "\"");
            if (i + 1 >= argc) bad("flag " + flag + " needs a value");
            value = argv[++i];
        }
        if (flag == "--data") d.data = value;
        else if (flag == "--epochs") d.epochs = int(number(flag, value, 1));
        else if (flag == "--batch-size") d.batch_size = int(number(flag, value, 1));
        else if (flag == "--seed") d.seed = std::uint64_t(number(flag, value, 0));
        else if (flag == "--threads") d.threads = int(number(flag, value, 1));
        else if (flag == "--out") d.out = value;
        else if (flag == "--steps") d.steps = long(number(flag, value, 1));
        else if (flag.size() > 2 && d.extra.count(flag.substr(2))) d.extra[flag.substr(2)] = value;
        else bad("unknown flag \"" + flag + "\"");
    }
    if (d.threads > 0) lumen::set_num_threads(d.threads);
    if (d.out.has_parent_path()) {  // --out runs/model.lumen: make runs/ so that saving does not fail at the end
        std::error_code ec;
        fs::create_directories(d.out.parent_path(), ec);
        if (ec) bad("flag --out: cannot create the folder \"" + d.out.parent_path().string() + "\": " + ec.message());
    }
    return d;
}

// Where a data set folder is looked for when --data is not given: the source tree's ../shared/data/<name>
// (compiled in), then ./<name>, ./data/<name> and ../shared/data/<name> relative to the current directory.
inline std::vector<fs::path> data_candidates(const std::string& name) {
    std::vector<fs::path> c;
    if (std::string(LUMEN_SHARED_DATA_DIR).size()) c.push_back(fs::path(LUMEN_SHARED_DATA_DIR) / name);
    c.push_back(fs::path(name));
    c.push_back(fs::path("data") / name);
    c.push_back(fs::path("..") / "shared" / "data" / name);
    return c;
}

// The data folder: --data if given (it must exist), else the first candidate that exists. When none does,
// prints where to get the data set (`download` says how) and exits with status 1.
inline fs::path find_data(const Args& a, const std::string& name, const std::string& download) {
    if (!a.data.empty()) {
        if (fs::is_directory(a.data)) return a.data;
        std::cerr << "error: --data \"" << a.data.string() << "\" is not a folder.\n" << download << "\n";
        std::exit(1);
    }
    for (const auto& p : data_candidates(name))
        if (fs::is_directory(p)) return p;
    std::cerr << "error: the data set \"" << name << "\" was not found; looked in:\n";
    for (const auto& p : data_candidates(name)) std::cerr << "  " << p.string() << "\n";
    std::cerr << download << "\n";
    std::exit(1);
}

// The picture next to the model file: "model.lumen" + "_curves.png" -> "model_curves.png".
inline fs::path beside(const fs::path& model, const std::string& suffix) {
    fs::path p = model;
    p.replace_filename(model.stem().string() + suffix);
    return p;
}

// Runs `body`, turning a lumen::Error into a message and exit status 1 instead of an abort.
template <class F>
int run(F&& body) {
    try {
        return body();
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << "\n";
        return 1;
    }
}

}  // namespace examples
