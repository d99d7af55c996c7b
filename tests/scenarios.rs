//! The shipped scenarios as tests nextest runs, one per variant (`scenario::variant`), through
//! kindproof's libtest-compatible harness: variants that need a cluster are listed as ignored
//! where no kind node image is local, and run on a pooled cluster where one is.

fn main() {
    kindproof::harness::main()
}
