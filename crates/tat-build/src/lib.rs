//! Shared by the `build.rs` of every crate that links an artifact (binary, test binary, cdylib).
//!
//! The linker drops `libtorch_cuda.so` when nothing references it directly (`--as-needed`), and
//! then CUDA is silently unavailable at run time. Forcing `--no-as-needed -ltorch` keeps it, and an
//! rpath to torch's lib directory lets the artifact run without `LD_LIBRARY_PATH`.

/// Emits the linker arguments. `torch-sys` (a direct dependency of the calling crate, `links = "tch"`)
/// exports its lib directory as `DEP_TCH_LIBTORCH_LIB`.
pub fn link_libtorch() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    let Ok(lib_dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
        println!("cargo:warning=DEP_TCH_LIBTORCH_LIB is not set: add torch-sys as a dependency of this crate");
        return;
    };
    // Lets `check` report which libtorch the artifact was linked against.
    println!("cargo:rustc-env=TAT_LIBTORCH_LIB={lib_dir}");
    println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{lib_dir}");
    println!("cargo:rustc-link-arg=-L{lib_dir}");
    println!("cargo:rustc-link-arg=-ltorch");
    for optional in ["torch_cuda", "c10_cuda"] {
        if std::path::Path::new(&lib_dir).join(format!("lib{optional}.so")).exists() {
            println!("cargo:rustc-link-arg=-l{optional}");
        }
    }
}
