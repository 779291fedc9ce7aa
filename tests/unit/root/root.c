/* Unit tests for src/root/root.c. */
#include <stdbool.h>

#include "root/root.h"
#include "test.h"

TEST(root_config_path_forms)
{
    bool missing;
    char *a1[] = {"c", "--config", "a.conf", NULL};
    CHECK_STR_EQ(root_config_path(3, a1, &missing), "a.conf");
    CHECK_TRUE(!missing);
    char *a2[] = {"c", "x", "--config=b.conf", NULL};
    CHECK_STR_EQ(root_config_path(3, a2, &missing), "b.conf");
    char *a3[] = {"c", "--", "--config", "c.conf", NULL};
    CHECK_TRUE(root_config_path(4, a3, &missing) == NULL);
    CHECK_TRUE(!missing);
    char *a4[] = {"c", "--config", NULL};
    CHECK_TRUE(root_config_path(2, a4, &missing) == NULL);
    CHECK_TRUE(missing);
    char *a5[] = {"c", "--config=", NULL};
    CHECK_TRUE(root_config_path(2, a5, &missing) == NULL);
    CHECK_TRUE(missing);
}
