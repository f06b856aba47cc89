# Holds the images Azure ML builds from infra/azureml/environment*.yml.
# Pulls authenticate with Entra ID (AcrPull for the cluster identity); the
# admin user is off and anonymous pull is off.

resource "azurerm_container_registry" "this" {
  #checkov:skip=CKV_AZURE_139:Basic SKU cannot disable public network access (Premium only, ~50 USD/month vs ~5 idle); access still requires Entra ID (admin user and anonymous pull off).
  #checkov:skip=CKV_AZURE_163:Image vulnerability scanning is Microsoft Defender for Containers, enabled per subscription, not by this stack; images are Azure ML builds of public Microsoft base images.
  #checkov:skip=CKV_AZURE_164:Content trust (trust_policy) is Premium only; the only images are ones Azure ML builds itself.
  #checkov:skip=CKV_AZURE_165:Geo-replication is Premium only; images are rebuilt from the environment YAML on demand, so no second region is needed.
  #checkov:skip=CKV_AZURE_166:Quarantine policy is Premium only; no externally pushed images.
  #checkov:skip=CKV_AZURE_167:Untagged-manifest retention policy is Premium only; Azure ML tags every image it builds, so untagged manifests stay rare and old environment images can be purged with az acr run.
  #checkov:skip=CKV_AZURE_233:Zone redundancy is Premium only; a lost image is rebuilt by Azure ML from the environment definition.
  #checkov:skip=CKV_AZURE_237:Dedicated data endpoints are Premium only (used with registry firewall rules, which Basic lacks).
  name                = local.registry_name
  resource_group_name = azurerm_resource_group.this.name
  location            = azurerm_resource_group.this.location
  sku                 = var.acr_sku
  admin_enabled       = false
  tags                = var.tags
}
