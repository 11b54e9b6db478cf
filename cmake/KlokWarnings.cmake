# Compiler flags shared by every klok target.
add_compile_options(-Wall -Wextra -Wshadow -Wstrict-prototypes -Wformat=2
                    -Wno-unused-parameter -fno-common)
add_compile_definitions(_GNU_SOURCE)
if(KLOK_WERROR)
  add_compile_options(-Werror)
endif()
if(KLOK_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
