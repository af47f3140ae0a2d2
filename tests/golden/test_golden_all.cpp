// Runs every case of ../shared/golden/cases.list through the handler registered for its op (in the other
// files of this folder) and fails for any case, or any .txt file, that nothing consumes.
#include <set>

#include "support/golden.hpp"

using namespace lumen::test;

TEST_CASE("golden: every case in shared/golden is consumed by a test", "[golden]") {
    const auto dir = golden_dir();
    if (!std::filesystem::exists(dir / "cases.list")) {
        WARN("SKIPPED: golden tests need " << dir.string() << " (set LUMEN_SHARED_DIR); it is not there");
        return;
    }
    std::ifstream list(dir / "cases.list");
    std::set<std::string> listed;
    std::string line;
    while (std::getline(list, line)) {
        std::istringstream words(line);
        std::string name, op;
        if (!(words >> name) || name[0] == '#') continue;
        words >> op;
        listed.insert(name);
        DYNAMIC_SECTION(name) {
            const GoldenCase c = read_golden(dir / (name + ".txt"));
            REQUIRE(c.op == op);
            auto it = golden_handlers().find(op);
            INFO("golden case " << name << " has op " << op);
            REQUIRE(it != golden_handlers().end());  // no test consumes this op: write one
            it->second(c);
        }
    }
    CHECK(!listed.empty());
    for (const auto& entry : std::filesystem::directory_iterator(dir))
        if (entry.path().extension() == ".txt") {
            INFO("golden file " << entry.path().filename().string() << " is not in cases.list");
            CHECK(listed.count(entry.path().stem().string()) == 1);
        }
}
