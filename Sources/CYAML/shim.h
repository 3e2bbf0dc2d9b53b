// libyaml (Debian's libyaml-dev), the YAML 1.1 parser the pipeline language reads files with.
#include <yaml.h>
