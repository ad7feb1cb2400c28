// lbctl: the operator CLI. All logic lives in //cli:lbctl_lib (cli/lbctl.h).
#include <iostream>

#include "cli/lbctl.h"

int main(int argc, char** argv) {
  return lb::cli::RunLbctl(argc, argv, std::cout, std::cerr, lb::cli::ProcessEnv());
}
