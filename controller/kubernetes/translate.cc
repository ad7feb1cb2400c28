#include "controller/kubernetes/translate.h"

namespace lb::kubernetes {

DesiredState Translate(const ObjectSnapshot& objects, const TranslateOptions& options) {
  (void)objects;
  (void)options;
  return DesiredState{};
}

}  // namespace lb::kubernetes
