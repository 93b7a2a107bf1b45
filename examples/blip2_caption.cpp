#include <cstdio>
int main() { std::puts("not yet"); return 1; }
