fn main() {
    tat_build::link_libtorch();
}
