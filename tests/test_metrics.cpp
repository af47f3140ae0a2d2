// Metrics: Keras' resolution of "accuracy" from the shapes, each accuracy on hand-made batches (argmax ties
// go to the first index), top-k with ties at the boundary, precision / recall on a hand-counted example,
// running means over several batches with sample weights, reset_state(), and errors for bad shapes.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "lumen/metrics/Mean.hpp"
#include "lumen/metrics/get.hpp"

using namespace lumen;
using namespace lumen::metrics;

TEST_CASE("metrics: \"accuracy\" resolves from the shapes as Keras does and keeps the user's name", "[metrics]") {
    // one sigmoid output
    CHECK(resolve_accuracy(Shape{32, 1}, Shape{32, 1}) == "binary_accuracy");
    CHECK(resolve_accuracy(Shape{32}, Shape{32, 1}) == "binary_accuracy");
    // softmax with one-hot targets
    CHECK(resolve_accuracy(Shape{32, 5}, Shape{32, 5}) == "categorical_accuracy");
    // integer labels, (N,) or (N, 1)
    CHECK(resolve_accuracy(Shape{32}, Shape{32, 5}) == "sparse_categorical_accuracy");
    CHECK(resolve_accuracy(Shape{32, 1}, Shape{32, 5}) == "sparse_categorical_accuracy");

    auto acc = get<float>("acc", Shape{8, 1}, Shape{8, 1});
    CHECK(acc->class_name() == "BinaryAccuracy");
    CHECK(acc->name() == "acc");
    auto accuracy = get<float>("accuracy", Shape{8}, Shape{8, 3});
    CHECK(accuracy->class_name() == "SparseCategoricalAccuracy");
    CHECK(accuracy->name() == "accuracy");
    CHECK(get<float>("accuracy", Shape{8, 3}, Shape{8, 3})->class_name() == "CategoricalAccuracy");
    CHECK(get<float>("top_k_categorical_accuracy")->name() == "top_k_categorical_accuracy");
    CHECK(get<float>("Precision")->name() == "precision");
    CHECK(get<float>("recall")->class_name() == "Recall");
    CHECK_THROWS_AS(get<float>("accuracy"), Error);  // needs the shapes
    CHECK_THROWS_AS(get<float>("auc"), Error);
}

TEST_CASE("metrics: BinaryAccuracy thresholds strictly above 0.5", "[metrics]") {
    BinaryAccuracy<float> m;
    // predictions 0.9 -> 1, 0.5 -> 0 (not > 0.5), 0.2 -> 0, 0.7 -> 1
    m.update_state(Tensor<float>({4, 1}, {1, 1, 0, 0}), Tensor<float>({4, 1}, {0.9f, 0.5f, 0.2f, 0.7f}));
    CHECK(m.result() == Approx(0.5));
    // a second batch: running mean over all samples seen (2 of 4, then 2 of 2: 4 of 6)
    m.update_state(Tensor<float>({2, 1}, {1, 0}), Tensor<float>({2, 1}, {0.6f, 0.1f}));
    CHECK(m.result() == Approx(4.0 / 6.0));
    m.reset_state();
    CHECK(m.result() == 0.0);
    // logits with threshold 0
    BinaryAccuracy<float> logits({.name = "acc", .threshold = 0.0});
    logits.update_state(Tensor<float>({2}, {1, 0}), Tensor<float>({2, 1}, {0.3f, -2.0f}));
    CHECK(logits.result() == 1.0);
}

TEST_CASE("metrics: categorical and sparse accuracy, argmax ties go to the first index", "[metrics]") {
    CategoricalAccuracy<float> cat;
    // row 0: tie between classes 0 and 2 -> 0 (correct, target 0); row 1: tie -> 0 (wrong, target 2);
    // row 2: clear argmax 1 (correct)
    const Tensor<float> pred({3, 3}, {0.4f, 0.2f, 0.4f, 0.3f, 0.3f, 0.3f, 0.1f, 0.8f, 0.1f});
    cat.update_state(Tensor<float>({3, 3}, {1, 0, 0, 0, 0, 1, 0, 1, 0}), pred);
    CHECK(cat.result() == Approx(2.0 / 3.0));

    SparseCategoricalAccuracy<float> sparse;
    sparse.update_state(Tensor<float>({3}, {0, 2, 1}), pred);
    CHECK(sparse.result() == Approx(2.0 / 3.0));
    SparseCategoricalAccuracy<float> sparse_col;
    sparse_col.update_state(Tensor<float>({3, 1}, {2, 2, 1}), pred);  // row 0 predicted 0 (tie), not 2
    CHECK(sparse_col.result() == Approx(1.0 / 3.0));

    // sample weights: weighted mean of correct flags
    CategoricalAccuracy<float> weighted;
    const std::vector<float> w{1, 3, 0};
    weighted.update_state(Tensor<float>({3, 3}, {1, 0, 0, 0, 0, 1, 0, 1, 0}), pred, &w);
    CHECK(weighted.result() == Approx(1.0 / 4.0));
}

TEST_CASE("metrics: top-k categorical accuracy", "[metrics]") {
    const Tensor<float> pred({3, 4}, {0.1f, 0.2f, 0.3f, 0.4f,      // target 1: rank 3 -> miss for k=2
                                      0.25f, 0.25f, 0.25f, 0.25f,  // all tied: in the top k (TF in_top_k)
                                      0.5f, 0.3f, 0.1f, 0.1f});    // target 1: rank 2 -> hit
    const Tensor<float> y({3, 4}, {0, 1, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0});
    TopKCategoricalAccuracy<float> top2({.k = 2});
    top2.update_state(y, pred);
    CHECK(top2.result() == Approx(2.0 / 3.0));
    TopKCategoricalAccuracy<float> top5;  // k = 5 >= 4 classes: everything is in the top 5
    CHECK(top5.k() == 5);
    top5.update_state(y, pred);
    CHECK(top5.result() == 1.0);
    TopKCategoricalAccuracy<float> top1({.k = 1});
    top1.update_state(y, pred);
    CHECK(top1.result() == Approx(1.0 / 3.0));  // only the all-tied row

    SparseTopKCategoricalAccuracy<float> sparse2({.k = 2});
    sparse2.update_state(Tensor<float>({3}, {1, 2, 1}), pred);
    CHECK(sparse2.result() == Approx(2.0 / 3.0));
}

TEST_CASE("metrics: precision and recall on a hand-counted example", "[metrics]") {
    // y_true:  1    1    0    0    1    0
    // y_pred:  0.9  0.4  0.6  0.1  0.8  0.5     (> 0.5 -> 1 0 1 0 1 0)
    // TP = 2 (0, 4), FP = 1 (2), FN = 1 (1)
    const Tensor<float> y({6, 1}, {1, 1, 0, 0, 1, 0});
    const Tensor<float> p({6, 1}, {0.9f, 0.4f, 0.6f, 0.1f, 0.8f, 0.5f});
    Precision<float> precision;
    Recall<float> recall;
    precision.update_state(y, p);
    recall.update_state(y, p);
    CHECK(precision.true_positives() == 2);
    CHECK(precision.false_positives() == 1);
    CHECK(recall.false_negatives() == 1);
    CHECK(precision.result() == Approx(2.0 / 3.0));
    CHECK(recall.result() == Approx(2.0 / 3.0));
    // a second batch accumulates: one more false negative
    recall.update_state(Tensor<float>({1, 1}, {1}), Tensor<float>({1, 1}, {0.2f}));
    CHECK(recall.result() == Approx(2.0 / 4.0));
    // nothing predicted positive: 0, not NaN
    Precision<float> empty;
    empty.update_state(Tensor<float>({2, 1}, {1, 0}), Tensor<float>({2, 1}, {0.1f, 0.2f}));
    CHECK(empty.result() == 0.0);
    precision.reset_state();
    CHECK(precision.true_positives() == 0);
}

TEST_CASE("metrics: Mean weights values, as Keras' epoch loss (mean over batches weighted by size)", "[metrics]") {
    Mean<float> loss({.name = "loss"});
    loss.update_state(1.0, 32);  // batch of 32 with loss 1.0
    loss.update_state(4.0, 8);   // last batch of 8 with loss 4.0
    CHECK(loss.result() == Approx((32 * 1.0 + 8 * 4.0) / 40));
    loss.update_state(Tensor<float>({2}, {0.0f, 0.0f}));
    CHECK(loss.result() == Approx(64.0 / 42));
    loss.reset_state();
    CHECK(loss.result() == 0.0);
}

TEST_CASE("metrics: shape errors name the metric and the shapes", "[metrics]") {
    using Catch::Matchers::Contains;
    auto message = [](auto&& fn) -> std::string {
        try {
            fn();
        } catch (const Error& e) {
            return e.what();
        }
        return "(no error)";
    };
    CategoricalAccuracy<float> cat({.name = "accuracy"});
    CHECK_THAT(message([&] {
                   cat.update_state(Tensor<float>({2}), Tensor<float>({2, 3}));
               }),
               Contains("CategoricalAccuracy \"accuracy\"") && Contains("(2,)") && Contains("(2, 3)"));
    SparseCategoricalAccuracy<float> sparse;
    CHECK_THAT(message([&] {
                   sparse.update_state(Tensor<float>({2, 3}), Tensor<float>({2, 3}));
               }),
               Contains("SparseCategoricalAccuracy") && Contains("(2, 3)"));
    BinaryAccuracy<float> bin;
    const std::vector<float> w{1, 2, 3};
    CHECK_THAT(message([&] {
                   bin.update_state(Tensor<float>({2, 1}), Tensor<float>({2, 1}), &w);
               }),
               Contains("3 sample weights"));
}
