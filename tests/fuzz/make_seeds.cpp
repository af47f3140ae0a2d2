// Writes the small seed corpus the fuzz targets start from (generated at build/run time; no binary is
// committed). Usage: make_seeds <out_dir>; creates <out_dir>/{model_file,arch,image,idx,scan}/.
//   model_file: a compiled and trained Conv2D/BN/Dense model (with Adam state) and the same model uncompiled
//   arch:       the architecture texts of those two files and of a model with the augmentation, padding,
//               pooling and activation layers besides
//   image:      PNG (grey, RGB, RGBA), JPEG and BMP images, each prefixed by an option byte (see fuzz_image.cpp)
//   idx:        raw IDX files of rank 1 and 3 (scripts/fuzz adds gzip'd copies with the gzip tool)
//   scan:       newline-separated name lists (classes, nested folders, hidden names, symlinks, odd extensions)
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "lumen/lumen.hpp"

namespace fs = std::filesystem;
using namespace lumen;

namespace {
void write(const fs::path& p, const std::vector<std::uint8_t>& b) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}
std::vector<std::uint8_t> read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}
void write_text(const fs::path& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; }

Sequential<float> small_model() {
    return Sequential<float>({layers::Input<float>({4, 4, 1}), layers::Conv2D<float>(2, 3, {.padding = "same"}),
                              layers::BatchNormalization<float>(), layers::Flatten<float>(), layers::Dense<float>(3)},
                             {.seed = 1});
}

std::vector<std::uint8_t> idx(const std::vector<std::uint32_t>& dims) {
    std::vector<std::uint8_t> b{0, 0, 8, std::uint8_t(dims.size())};
    std::size_t n = 1;
    for (auto d : dims) {
        for (int s = 24; s >= 0; s -= 8) b.push_back(std::uint8_t(d >> s));
        n *= d;
    }
    for (std::size_t i = 0; i < n; ++i) b.push_back(std::uint8_t(i * 37));
    return b;
}
}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: make_seeds <out_dir>\n";
        return 2;
    }
    const fs::path out = argv[1];
    for (const char* d : {"model_file", "arch", "image", "idx", "scan"}) fs::create_directories(out / d);

    Sequential<float> m = small_model();
    m.save((out / "model_file" / "uncompiled.lmdl").string());
    m.compile(optimizers::Adam<float>(), losses::SparseCategoricalCrossentropy<float>({.from_logits = true}),
              {"accuracy"});
    Tensor<float> x(Shape{4, 4, 4, 1}), y(Shape{4});
    for (index_t i = 0; i < x.size(); ++i) x[i] = float(i % 7) / 7.0f;
    for (index_t i = 0; i < 4; ++i) y[i] = float(i % 3);
    m.fit(x, y, {.batch_size = 2, .epochs = 1, .verbose = 0});
    m.save((out / "model_file" / "trained_adam.lmdl").string());
    // arch: the architecture texts of both files (compiled and not), and one with most other layer classes.
    for (const char* name : {"uncompiled", "trained_adam"})
        write_text(out / "arch" / (std::string(name) + ".txt"),
                   model::read_model_file((out / "model_file" / (std::string(name) + ".lmdl")).string()).architecture);
    {
        Sequential<float> all({layers::Input<float>({9, 9, 3}), layers::RandomFlip<float>(), layers::RandomRotation<float>(0.1),
                               layers::RandomZoom<float>(0.1), layers::RandomTranslation<float>(0.1, 0.1),
                               layers::RandomContrast<float>(0.2), layers::RandomBrightness<float>(0.2),
                               layers::Resizing<float>(8, 8), layers::Rescaling<float>(1.0 / 255),
                               layers::ZeroPadding2D<float>(1), layers::Conv2D<float>(2, 3),
                               layers::BatchNormalization<float>(), layers::Activation<float>("relu"),
                               layers::AveragePooling2D<float>(2), layers::MaxPooling2D<float>(2, {.strides = 1}),
                               layers::GlobalAveragePooling2D<float>(), layers::Dropout<float>(0.5), layers::Dense<float>(2)},
                              {.seed = 2});
        const fs::path p = out / "arch" / "all.lmdl";
        all.save(p.string());
        write_text(out / "arch" / "all_layers.txt", model::read_model_file(p.string()).architecture);
        fs::remove(p);
    }

    const fs::path tmp = out / "image" / "tmp";
    fs::create_directories(tmp);
    int k = 0;
    for (int c : {1, 3, 4}) {
        data::Image img(5, 7, c);
        for (std::size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = std::uint8_t(i * 29);
        for (const char* ext : {".png", ".jpg", ".bmp"}) {
            if (c == 4 && std::string(ext) != ".png") continue;
            const fs::path p = tmp / ("img" + std::to_string(c) + ext);
            data::save_img(p, img);
            std::vector<std::uint8_t> b = read(p);
            b.insert(b.begin(), std::uint8_t(k++ * 53));  // option byte
            write(out / "image" / ("c" + std::to_string(c) + std::string(ext).substr(1)), b);
        }
    }
    fs::remove_all(tmp);
    write(out / "image" / "p5.pgm", [] {
        const std::string s = "\x07P5\n3 2\n255\n";
        std::vector<std::uint8_t> b(s.begin(), s.end());
        for (int i = 0; i < 6; ++i) b.push_back(std::uint8_t(i * 40));
        return b;
    }());

    write(out / "idx" / "labels.idx1", idx({10}));
    write(out / "idx" / "images.idx3", idx({3, 4, 5}));

    write_text(out / "scan" / "basic", "cats/a.jpg\ncats/b.PNG\ndogs/c.jpeg\ndogs/sub/d.bmp\n");
    write_text(out / "scan" / "hidden", ".hidden/x.png\na/.y.png\nb/\nc/readme.txt\n");
    write_text(out / "scan" / "links", "a/x.png\n@a/loop\nb/deep/er/z.gif\n@b/deep/back\n");
    write_text(out / "scan" / "odd", "a b/sp ace.jpg\n\xc3\xa9t\xc3\xa9/caf\xc3\xa9.png\nx/.png\ny/noext\n");
    std::cout << "seeds written to " << out.string() << "\n";
    return 0;
}
