// lbctl: the operator CLI. All logic lives in cli/lbctl.cc.
#include <iostream>

#include "cli/lbctl.h"

int main(int argc, char** argv) {
  return lb::cli::RunLbctl(argc, argv, std::cout, std::cerr, lb::cli::ProcessEnv());
}
