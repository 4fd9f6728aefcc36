// Entry point of the clusteralloc command line; the commands live in experiments/.
int main(int argc, char** argv);
int ca_main_placeholder();
int main(int, char**) { return 0; }
