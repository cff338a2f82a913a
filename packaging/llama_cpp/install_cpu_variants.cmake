# Included at the end of llama-cpp-python's project() call (CMAKE_PROJECT_llama_cpp_INCLUDE,
# set by build.sh). With GGML_CPU_ALL_VARIANTS llama.cpp builds one CPU backend per CPU family
# (ggml-cpu-x64, ggml-cpu-haswell, ..., ggml-cpu-sapphirerapids), but llama-cpp-python installs
# only the targets it names (ggml-cpu, not these). Once the whole tree is configured, install
# every ggml-cpu-* target beside libllama.so the way it installs its own.
cmake_language(DEFER CALL _jradi_install_cpu_variants)

function(_jradi_collect_targets dir out)
    get_property(targets DIRECTORY "${dir}" PROPERTY BUILDSYSTEM_TARGETS)
    get_property(subdirs DIRECTORY "${dir}" PROPERTY SUBDIRECTORIES)
    foreach(sub IN LISTS subdirs)
        _jradi_collect_targets("${sub}" sub_targets)
        list(APPEND targets ${sub_targets})
    endforeach()
    set(${out} ${targets} PARENT_SCOPE)
endfunction()

function(_jradi_install_cpu_variants)
    _jradi_collect_targets("${CMAKE_SOURCE_DIR}" all_targets)
    set(found "")
    foreach(target IN LISTS all_targets)
        get_target_property(type ${target} TYPE)
        # ggml-cpu-<family> is the backend (a module); ggml-cpu-<family>-feats its objects
        if(target MATCHES "^ggml-cpu-" AND type MATCHES "^(MODULE|SHARED)_LIBRARY$")
            llama_cpp_python_install_target(${target})
            list(APPEND found ${target})
        endif()
    endforeach()
    if(NOT found)
        message(FATAL_ERROR "no ggml-cpu-* variant targets: is GGML_CPU_ALL_VARIANTS on?")
    endif()
    message(STATUS "JRadi: installing CPU variants ${found}")
endfunction()
