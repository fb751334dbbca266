# Script mode: read the dt_backend struct from backend.h (IN) and write a C
# header (OUT) listing the names of its function-pointer members in order,
# so the completeness check of a backend table can name a missing op
# without a hand-kept list. Usage: cmake -DIN=... -DOUT=... -P this file.
file(READ ${IN} text)
string(FIND "${text}" "typedef struct dt_backend {" begin)
string(FIND "${text}" "} dt_backend;" end)
if(begin LESS 0 OR end LESS begin)
  message(FATAL_ERROR "${IN}: no 'typedef struct dt_backend { ... } dt_backend;' found")
endif()
math(EXPR len "${end} - ${begin}")
string(SUBSTRING "${text}" ${begin} ${len} body)
# Drop comments, so names mentioned in them are not taken for members.
string(REGEX REPLACE "/\\*([^*]|\\*+[^*/])*\\*+/" "" body "${body}")
string(REGEX REPLACE "//[^\n]*" "" body "${body}")
string(REGEX MATCHALL "\\(\\*[ \t]*[A-Za-z_][A-Za-z0-9_]*[ \t]*\\)[ \t\n]*\\(" ptrs "${body}")
set(names "")
set(count 0)
foreach(p ${ptrs})
  string(REGEX REPLACE "^\\(\\*[ \t]*([A-Za-z_][A-Za-z0-9_]*).*" "\\1" n "${p}")
  string(APPEND names "    \"${n}\",\n")
  math(EXPR count "${count} + 1")
endforeach()
set(out "/* Generated from backend/backend.h at build time: do not edit. */\n")
string(APPEND out "#define DT_BACKEND_OP_COUNT ${count}\n")
string(APPEND out "static const char *const dt_backend_op_names[DT_BACKEND_OP_COUNT] = {\n")
string(APPEND out "${names}};\n")
file(WRITE ${OUT} "${out}")
