#include <lumen/lumen.hpp>

#include <iostream>

int main() {
    lumen::Tensor<float> x(lumen::Shape{1, 4, 4, 3}, 1.0f);
    std::cout << "consumer: built against lumen, tensor " << x.shape() << " sum " << x.array().sum() << "\n";
    return x.array().sum() == 48.0f ? 0 : 1;
}
