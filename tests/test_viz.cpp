// Pictures: the canvas primitives put pixels where they should, the training-curve PNG decodes at the
// requested size with both curves' colours in the right panels, the SVG is well-formed and holds the series,
// the confusion matrix, image grid, filter and feature-map pictures have the expected sizes and shading.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "lumen/data/image.hpp"
#include "lumen/layers/Conv2D.hpp"
#include "lumen/layers/Input.hpp"
#include "lumen/layers/MaxPooling2D.hpp"
#include "lumen/model/History.hpp"
#include "lumen/model/Sequential.hpp"
#include "lumen/viz/Canvas.hpp"
#include "lumen/viz/confusion_matrix.hpp"
#include "lumen/viz/conv_filters.hpp"
#include "lumen/viz/image_grid.hpp"
#include "lumen/viz/plot_history.hpp"

using namespace lumen;
namespace fs = std::filesystem;

namespace {

fs::path temp_file(const std::string& name) {
    const fs::path dir = fs::temp_directory_path() / "lumen_test_viz";
    fs::create_directories(dir);
    return dir / name;
}

model::History make_history(bool with_validation) {
    model::History h;
    const double loss[] = {1.2, 0.8, 0.6, 0.5, 0.45}, acc[] = {0.55, 0.7, 0.78, 0.82, 0.85};
    for (int e = 0; e < 5; ++e) {
        model::Logs l{{"loss", loss[e]}, {"accuracy", acc[e]}};
        if (with_validation) {
            l.set("val_loss", loss[e] + 0.1);
            l.set("val_accuracy", acc[e] - 0.05);
        }
        h.record(e, l);
    }
    return h;
}

int count_color(const data::Image& img, viz::Color c, int x0, int x1) {
    int n = 0;
    for (index_t y = 0; y < img.height; ++y)
        for (index_t x = x0; x < x1; ++x)
            if (img.at(y, x, 0) == c.r && img.at(y, x, 1) == c.g && img.at(y, x, 2) == c.b) ++n;
    return n;
}

// A tiny XML well-formedness check: tags nest and close, attributes are quoted, no stray '<' or '&'.
bool well_formed(const std::string& s, std::string& why) {
    std::vector<std::string> stack;
    std::size_t i = 0;
    while ((i = s.find('<', i)) != std::string::npos) {
        const std::size_t end = s.find('>', i);
        if (end == std::string::npos) return why = "unterminated tag", false;
        std::string tag = s.substr(i + 1, end - i - 1);
        if (tag.find('<') != std::string::npos) return why = "'<' inside a tag", false;
        std::size_t quotes = 0;
        for (char c : tag) quotes += c == '"';
        if (quotes % 2) return why = "unbalanced quotes in <" + tag + ">", false;
        if (tag[0] == '?') {
        } else if (tag[0] == '/') {
            if (stack.empty() || stack.back() != tag.substr(1)) return why = "mismatched </" + tag.substr(1) + ">", false;
            stack.pop_back();
        } else if (tag.back() != '/') {
            stack.push_back(tag.substr(0, tag.find_first_of(" \n")));
        }
        i = end + 1;
    }
    if (!stack.empty()) return why = "unclosed <" + stack.back() + ">", false;
    for (std::size_t a = s.find('&'); a != std::string::npos; a = s.find('&', a + 1))
        if (s.compare(a, 4, "&lt;") && s.compare(a, 4, "&gt;") && s.compare(a, 5, "&amp;") && s.compare(a, 6, "&quot;"))
            return why = "bare '&'", false;
    return true;
}

}  // namespace

TEST_CASE("nice_ticks are round, ordered and cover the range") {
    const auto t = viz::nice_ticks(0.43, 0.91, 5);
    REQUIRE(t.size() >= 3);
    CHECK(t.front() <= 0.43);
    CHECK(t.back() >= 0.91);
    const double step = t[1] - t[0];
    CHECK(step == Approx(0.1));
    for (std::size_t i = 1; i < t.size(); ++i) CHECK(t[i] - t[i - 1] == Approx(step));
    CHECK(viz::tick_label(0.25, 0.05) == "0.25");
    CHECK(viz::tick_label(3, 1) == "3");
    // A flat series still gets a non-empty range.
    const auto flat = viz::nice_ticks(2.0, 2.0);
    CHECK(flat.front() < 2.0);
    CHECK(flat.back() > 2.0);
}

TEST_CASE("Canvas draws lines, rectangles and text where asked, clipped at the edges") {
    viz::Canvas c(40, 30);
    CHECK(c.get(0, 0) == viz::kWhite);
    c.fill_rect(5, 6, 3, 2, viz::kBlue);
    CHECK(c.get(5, 6) == viz::kBlue);
    CHECK(c.get(7, 7) == viz::kBlue);
    CHECK(c.get(8, 7) == viz::kWhite);
    CHECK(c.get(5, 8) == viz::kWhite);
    c.line(0, 20, 39, 20, viz::kOrange);
    for (int x = 0; x < 40; ++x) CHECK(c.get(x, 20) == viz::kOrange);
    c.line(10, 0, 20, 10, viz::kBlack);  // a diagonal hits both ends and the middle
    CHECK(c.get(10, 0) == viz::kBlack);
    CHECK(c.get(15, 5) == viz::kBlack);
    CHECK(c.get(20, 10) == viz::kBlack);
    c.fill_rect(-10, -10, 100, 1, viz::kGrey);  // clipped, no crash
    // "1": the glyph's column 2 is set on rows 0..6 (0x04 pattern), column 0 of row 0 is not.
    viz::Canvas t(10, 10);
    t.text(1, 1, "1", viz::kBlack);
    CHECK(t.get(1 + 2, 1 + 3) == viz::kBlack);
    CHECK(t.get(1 + 0, 1 + 0) == viz::kWhite);
    CHECK(viz::text_width("ab", 2) == 22);
    CHECK(viz::hex(viz::kBlue) == "#1f77b4");
}

TEST_CASE("plot_history writes a decodable PNG of the requested size with both curves in each panel") {
    const auto path = temp_file("curves.png");
    fs::remove(path);
    viz::plot_history(make_history(true), path, {.width = 900, .height = 360});
    REQUIRE(fs::exists(path));
    const data::Image img = data::decode_image_file(path, 3);
    CHECK(img.width == 900);
    CHECK(img.height == 360);
    CHECK(img.at(0, 0, 0) == 255);  // white background
    // Training (blue) and validation (orange) in the accuracy panel (left half) and the loss panel (right half).
    CHECK(count_color(img, viz::kBlue, 0, 450) > 200);
    CHECK(count_color(img, viz::kOrange, 0, 450) > 200);
    CHECK(count_color(img, viz::kBlue, 450, 900) > 200);
    CHECK(count_color(img, viz::kOrange, 450, 900) > 200);
}

TEST_CASE("plot_history without validation draws no validation curve; a NaN epoch does not break it") {
    model::History h = make_history(false);
    h.record(5, {{"loss", std::numeric_limits<double>::quiet_NaN()}, {"accuracy", 0.9}});
    const viz::Canvas c = viz::history_canvas(h, {.width = 800, .height = 300});
    CHECK(count_color(c.image(), viz::kBlue, 0, 800) > 200);
    CHECK(count_color(c.image(), viz::kOrange, 0, 800) == 0);
}

TEST_CASE("plot_history SVG is well-formed text with one polyline per series") {
    const std::string svg = viz::history_svg(make_history(true));
    std::string why;
    CHECK(well_formed(svg, why));
    INFO(why);
    CHECK(svg.rfind("<?xml", 0) == 0);
    CHECK(svg.find("<svg xmlns=\"http://www.w3.org/2000/svg\"") != std::string::npos);
    std::size_t polylines = 0;
    for (std::size_t p = svg.find("<polyline"); p != std::string::npos; p = svg.find("<polyline", p + 1)) ++polylines;
    CHECK(polylines == 4);  // training + validation, accuracy + loss
    CHECK(svg.find("Validation Loss") != std::string::npos);
    CHECK(svg.find("Training accuracy") != std::string::npos);
    // Five epochs: each polyline has five points.
    const auto start = svg.find("points=\"") + 8;
    const std::string pts = svg.substr(start, svg.find('"', start) - start);
    CHECK(std::count(pts.begin(), pts.end(), ',') == 5);

    const auto path = temp_file("curves.svg");
    viz::plot_history(make_history(true), path);
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    CHECK(ss.str() == svg);
    CHECK(viz::xml_escape("a<b&\"c\">") == "a&lt;b&amp;&quot;c&quot;&gt;");
}

TEST_CASE("plot_history puts the legend in the corner where it hides the least of the curves") {
    // A rising loss runs into the top-right corner, the default place of the loss legend; a falling one does not.
    // Mirror images must show the same amount of curve, so the rising one's legend must have moved.
    auto curve_pixels = [](bool rising) {
        model::History h;
        for (int e = 0; e < 8; ++e) {
            const double v = rising ? 0.1 + 0.1 * e : 0.8 - 0.1 * e;
            h.record(e, {{"loss", v}, {"val_loss", v + 0.02}});
        }
        const viz::Canvas c = viz::history_canvas(h, {.width = 800, .height = 300});
        return std::pair{count_color(c.image(), viz::kBlue, 0, 800), count_color(c.image(), viz::kOrange, 0, 800)};
    };
    const auto [rise_blue, rise_orange] = curve_pixels(true);
    const auto [fall_blue, fall_orange] = curve_pixels(false);
    CHECK(rise_blue > 200);
    CHECK(std::abs(double(rise_blue) - double(fall_blue)) <= 0.03 * double(fall_blue));
    CHECK(std::abs(double(rise_orange) - double(fall_orange)) <= 0.03 * double(fall_orange));
}

TEST_CASE("plot_history errors name what is missing") {
    model::History empty;
    CHECK_THROWS_WITH(viz::history_canvas(empty), Catch::Contains("no \"loss\""));
    CHECK_THROWS_WITH(viz::history_canvas(make_history(true), {.metric = "auc"}), Catch::Contains("\"auc\""));
    CHECK_THROWS_WITH(viz::plot_history(make_history(true), "/nonexistent_dir_lumen/x.svg"),
                      Catch::Contains("/nonexistent_dir_lumen/x.svg"));
}

TEST_CASE("confusion matrix: counts, shading by row fraction, PNG size") {
    const auto m = viz::confusion_counts({0, 0, 0, 1, 1, 2}, {0, 0, 1, 1, 1, 0}, 3);
    CHECK(m[0][0] == 2);
    CHECK(m[0][1] == 1);
    CHECK(m[1][1] == 2);
    CHECK(m[2][0] == 1);
    CHECK(m[2][2] == 0);
    CHECK_THROWS_WITH(viz::confusion_counts({0, 5}, {0, 0}, 3), Catch::Contains("sample 1"));
    const viz::Canvas c = viz::confusion_matrix_canvas(m, {"cat", "dog", "fox"}, {.cell = 40});
    const auto path = temp_file("confusion.png");
    viz::plot_confusion_matrix(m, {"cat", "dog", "fox"}, path, {.cell = 40});
    const data::Image img = data::decode_image_file(path, 3);
    CHECK(img.width == c.width());
    CHECK(img.height == c.height());
    // Find the grid's top-left by the darkest cell: row "fox" (2) predicted 0 is the row's whole mass (dark blue),
    // row "cat" predicted 2 is empty (near white). Sample the darkest and the lightest fill colours.
    int dark = 0, light = 0;
    for (int y = 0; y < c.height(); ++y)
        for (int x = 0; x < c.width(); ++x) {
            const auto p = c.get(x, y);
            if (p == viz::blues(1.0)) ++dark;
            if (p == viz::blues(0.0)) ++light;
        }
    CHECK(dark > 40 * 40 / 2);   // one full-row cell (fox -> cat)
    CHECK(light > 40 * 40 * 3);  // the empty cells
    CHECK_THROWS(viz::confusion_matrix_canvas(m, {"only", "two"}));
}

TEST_CASE("image_grid lays images out in cells with captions") {
    data::Image red(4, 6, 3), grey(5, 5, 1);
    for (index_t i = 0; i < 4 * 6; ++i) red.pixels[std::size_t(3 * i)] = 255;
    std::fill(grey.pixels.begin(), grey.pixels.end(), std::uint8_t(100));
    const viz::Canvas c = viz::image_grid({red, grey, red}, {.columns = 2, .scale = 2, .padding = 3});
    // Cells are 12x10 (largest image scaled); 2 columns, 2 rows.
    CHECK(c.width() == 2 * (12 + 3) + 3);
    CHECK(c.height() == 2 * (10 + 3) + 3);
    CHECK(c.get(3, 3 + 1) == viz::Color{255, 0, 0});  // red (8 high) centred in the first 10-high cell
    CHECK(c.get(3, 3) == viz::kWhite);
    CHECK(c.get(3 + 15 + 1, 3 + 0) == viz::Color{100, 100, 100});  // grey centred in the second cell
    CHECK(c.get(c.width() - 2, c.height() - 2) == viz::kWhite);  // no fourth image
    const viz::Canvas captioned = viz::image_grid({red, grey}, {.captions = {"a", "b"}});
    CHECK(captioned.height() > viz::image_grid({red, grey}).height());
    CHECK_THROWS_WITH(viz::image_grid({red}, {.captions = {"a", "b"}}), Catch::Contains("2 captions for 1 images"));
}

TEST_CASE("conv filter and feature-map pictures show every filter, scaled to the full grey range") {
    Tensor<float> kernel(Shape{3, 3, 1, 2});
    for (index_t i = 0; i < kernel.size(); ++i) kernel[i] = float(i);
    const auto imgs = viz::kernel_images(kernel);
    REQUIRE(imgs.size() == 2);
    CHECK(imgs[0].height == 3);
    CHECK(imgs[0].channels == 1);
    // Filter 0 holds even values 0..16: its min maps to 0 and its max to 255.
    CHECK(imgs[0].at(0, 0, 0) == 0);
    CHECK(imgs[0].at(2, 2, 0) == 255);

    Sequential model({layers::Input({12, 12, 3}), layers::Conv2D(4, 3, {.activation = "relu"}), layers::MaxPooling2D(),
                      layers::Conv2D(6, 3)},
                     {.seed = 7});
    const viz::Canvas filters = viz::conv_filters_canvas(model, 5);
    CHECK(filters.width() >= viz::text_width("Filters of conv2d", 3));  // the title fits
    CHECK(filters.height() > 2 * 15 + 3 * 7);  // 4 filters in 2 rows under the title
    Tensor<float> x(Shape{1, 12, 12, 3});
    for (index_t i = 0; i < x.size(); ++i) x[i] = float(i % 17);
    const auto path = temp_file("maps.png");
    viz::plot_feature_maps(model, x, path);
    const data::Image maps = data::decode_image_file(path, 3);
    CHECK(maps.width > 0);
    CHECK(maps.height > 0);
    Sequential<float> dense_only({layers::Input({4, 4, 1}), layers::MaxPooling2D()});
    CHECK_THROWS_WITH(viz::conv_filters_canvas(dense_only), Catch::Contains("no Conv2D layer"));
}
